// Call from client components only; the <Toaster> lives in app/providers.tsx.
export { toast } from "sonner";
