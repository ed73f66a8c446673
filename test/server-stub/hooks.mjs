// Module hooks (see register.mjs): the bare specifier "next" resolves to the stub.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === "next") return { url: new URL("./next.mjs", import.meta.url).href, shortCircuit: true };
  return nextResolve(specifier, context);
}
