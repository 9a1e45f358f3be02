// The smallest Worker: the startup-time baseline (what starting workerd costs with no code to load).
export default {
  fetch() {
    return new Response("ok");
  },
};
