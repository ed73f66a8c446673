import { z } from "zod";
import { PASSWORD_MIN_LENGTH } from "@/lib/auth/password";
import { idSchema } from "@/lib/folders/schemas";
import { nameSchema } from "@/lib/names";

export const passwordSchema = z
  .string({ error: "Enter a password." })
  .min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters.`)
  .max(200, "Use at most 200 characters.")
  // Spaces within a password are fine (a passphrase); a password of nothing else is no password.
  .refine((v) => v.length < PASSWORD_MIN_LENGTH || v.trim() !== "", "A password cannot be only spaces.");

export const emailSchema = z
  .string({ error: "Enter an e-mail address." })
  .trim()
  .toLowerCase()
  .max(254, "E-mail addresses can be at most 254 characters.")
  .pipe(z.email("Enter a valid e-mail address."));

export const userNameSchema = nameSchema({ max: 100 });

export const createUserSchema = z.object({
  email: emailSchema,
  name: userNameSchema,
  password: passwordSchema,
  isAdmin: z.boolean().default(false),
});

export const updateUserSchema = z.object({ userId: idSchema, name: userNameSchema, email: emailSchema });
export const setUserActiveSchema = z.object({ userId: idSchema, active: z.boolean() });
export const setUserAdminSchema = z.object({ userId: idSchema, isAdmin: z.boolean() });
export const resetPasswordSchema = z.object({
  userId: idSchema,
  password: passwordSchema,
  /** Also revoke the person's personal access tokens: whoever took over the account may have made some. */
  revokeTokens: z.boolean().default(false),
});
export const changeOwnPasswordSchema = z
  .object({
    currentPassword: z.string().min(1, "Enter your current password.").max(1024),
    newPassword: passwordSchema,
  })
  .refine((v) => v.currentPassword !== v.newPassword, {
    path: ["newPassword"],
    message: "Choose a password different from the current one.",
  });
