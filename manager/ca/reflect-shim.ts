// A minimal Reflect metadata store, installed only when no polyfill is present.
//
// Why: @peculiar/x509 registers its algorithm classes with tsyringe, whose module refuses to load unless
// `Reflect.getMetadata` exists. tsyringe reads two metadata keys ("design:paramtypes" and its injection
// tokens) and x509's registered classes take no constructor parameters, so a plain per-target map with
// prototype-chain lookup is all it needs. The `reflect-metadata` package would do the same in full; this
// keeps the dependency list to one package. It must be imported before '@peculiar/x509' (see x509.ts).

type MetadataMap = Map<unknown, unknown>;
type ReflectWithMetadata = typeof Reflect & {
  getMetadata?: (key: unknown, target: object) => unknown;
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
};

const reflect = Reflect as ReflectWithMetadata;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<object, MetadataMap>();
  const own = (key: unknown, target: object): unknown => store.get(target)?.get(key);
  const methods = {
    getOwnMetadata: own,
    getMetadata(key: unknown, target: object): unknown {
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        const map = store.get(t);
        if (map?.has(key)) return map.get(key);
      }
      return undefined;
    },
    defineMetadata(key: unknown, value: unknown, target: object): void {
      let map = store.get(target);
      if (!map) store.set(target, (map = new Map()));
      map.set(key, value);
    },
  };
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true });
  }
}

export {};
