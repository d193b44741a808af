// PostGraphile v5 (grafast, grafserv, @dataplan/pg) calls Promise.withResolvers(),
// which Node only has from 22 on. This machine runs Node 20, so define it here.
// It must run before any PostGraphile module is loaded: server.mjs imports this
// file first and loads PostGraphile with dynamic import() afterwards.
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
