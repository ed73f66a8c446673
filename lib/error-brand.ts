/**
 * `instanceof` for Latch's error classes that holds across bundles.
 *
 * Next builds the runner's route (lib/api/direct.ts, loaded with instrumentation.ts), the API's route
 * handlers and the console's pages and actions as separate bundles, each with its own copy of lib/,
 * while the process shares one set of store clients, target pools and secret cache between them
 * (on globalThis). A StoreError thrown by the copy that made a store client is not an instance of
 * another copy's StoreError class, so a plain `instanceof` would let a known failure through as an
 * unexpected one (a 500, no retry, no rotation).
 *
 * A class whose constructor calls `stampBrands` is matched by name: every instance carries the names of its
 * class and of each branded class it extends, under a key all copies share (Symbol.for).
 */
const BRANDS = Symbol.for("latch.errorBrands");

type AnyClass = abstract new (...args: never[]) => unknown;

type Branded = { [BRANDS]?: readonly string[] };

/**
 * Call in the base class's constructor with `new.target`: records the brands of the class chain.
 * A subclass takes part by declaring its own `static readonly brand`.
 */
export function stampBrands(instance: object, target: AnyClass): void {
  const brands: string[] = [];
  for (let c: unknown = target; typeof c === "function" && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (Object.hasOwn(c, "brand")) brands.push(String((c as unknown as { brand: unknown }).brand));
  }
  Object.defineProperty(instance, BRANDS, { value: Object.freeze(brands), enumerable: false });
}

/**
 * The `static [Symbol.hasInstance]` of a branded class: true for an instance of any copy of the class
 * (or of a subclass). A subclass without a brand of its own falls back to the ordinary test.
 */
export function hasBrand(cls: AnyClass, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
  if (!Object.hasOwn(cls, "brand") || value === null || typeof value !== "object") return false;
  const brands = (value as Branded)[BRANDS];
  return Array.isArray(brands) && brands.includes(String((cls as unknown as { brand: unknown }).brand));
}
