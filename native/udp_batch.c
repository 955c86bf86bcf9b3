// Batched UDP I/O for Node.js on Linux: a non-blocking UDP socket polled on Node's own libuv loop, read with
// recvmmsg(2) and answered with sendmmsg(2), one JavaScript call per batch of up to BATCH datagrams.
//
// Why: Node's dgram makes one recvmsg and one sendmsg per datagram, plus a JS call, a Buffer and an rinfo object.
// Here the datagrams, their source addresses and the answers live in one block of memory shared with JS
// (exposed once as an ArrayBuffer), so a batch costs two syscalls and one JS call.
//
// Contract with JS (src/dns/server/udp-batched.ts reads `layout` for the offsets):
//   open(family, host, port, reusePort, onBatch) -> { handle, port, memory }    throws on socket/bind errors
//   close(handle)                                                                idempotent, never throws
//   onBatch(count): datagrams 0..count-1 are in the receive slots, with recvLen (-1: larger than a slot, dropped),
//   family (4/6, 0 unknown), address (16 bytes, IPv4 in the first 4) and port (0: cannot be answered). sendLen is
//   zeroed before the call; JS writes each answer into its send slot and its length into sendLen (0: no answer).
//   When onBatch returns, the answers go out with sendmmsg to the source of the matching datagram.
// Nothing in the poll path throws into JS or ends the process: failures are counted in the stats array.
//
// The libuv poll handle and the fd close in close(); the shared block lives until both the socket is closed and
// the ArrayBuffer that exposes it is garbage-collected (a reference count), so late JS access stays safe.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
// Receive slot: larger queries are dropped and counted (DNS queries are far below this). Send slot: the largest
// UDP answer steerdns writes is edns_udp_size, at most 4096 (src/config/schema.ts).
#define RECV_SLOT 4096
#define SEND_SLOT 4096
// Batches per wake-up before yielding to the rest of the loop (timers, TCP, health probes); the poll is
// level-triggered, so what is left wakes us again on the next loop iteration.
#define MAX_BATCHES_PER_WAKE 16
#define SOCKET_BUFFER (4 * 1024 * 1024)

// Shared block layout: all offsets are multiples of 16.
#define OFF_RECV 0
#define OFF_SEND (OFF_RECV + BATCH * RECV_SLOT)
#define OFF_ADDR (OFF_SEND + BATCH * SEND_SLOT)
#define OFF_RECV_LEN (OFF_ADDR + BATCH * 16)
#define OFF_SEND_LEN (OFF_RECV_LEN + BATCH * 4)
#define OFF_PORT (OFF_SEND_LEN + BATCH * 4)
#define OFF_FAMILY (OFF_PORT + BATCH * 4)
#define OFF_STATS (OFF_FAMILY + BATCH * 4)

// Counters (float64, exact up to 2^53) JS can read at any time.
enum {
  ST_RECEIVED,       // datagrams received
  ST_BATCHES,        // JS calls
  ST_WAKEUPS,        // readable events
  ST_SENT,           // answers sent
  ST_SEND_FULL,      // answers dropped: send buffer full (EAGAIN/ENOBUFS); never waits
  ST_SEND_ERRORS,    // answers dropped: any other send error (unreachable destination, bad length, ...)
  ST_RECV_ERRORS,    // recvmmsg errors other than EAGAIN/EINTR
  ST_TRUNCATED,      // datagrams larger than a receive slot (dropped)
  ST_CALLBACK_ERRORS,// onBatch threw (JS catches per datagram; this is a last resort)
  ST_POLL_ERRORS,    // libuv reported a poll error
  ST_LAST_SEND_ERRNO,
  ST_LAST_RECV_ERRNO,
  ST_COUNT
};
static const char *const STAT_NAMES[ST_COUNT] = {
  "received", "batches", "wakeups", "sent", "sendFull", "sendErrors", "recvErrors", "truncated",
  "callbackErrors", "pollErrors", "lastSendErrno", "lastRecvErrno",
};
#define SHARED_SIZE (OFF_STATS + ST_COUNT * 8)

typedef struct {
  int refs;  // the socket + the ArrayBuffer; freed at 0
  uint8_t *data;
} shared_t;

struct box_s;

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref resource;
  napi_async_context async;
  shared_t *shared;
  struct box_s *box;
  int fd;
  int closed;
  int in_callback;
  int js_released;
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_storage raddr[BATCH];
  struct mmsghdr smsg[BATCH];
  struct iovec siov[BATCH];
} sock_t;

// What the JS handle points to: outlives the socket (cleared at close), freed by the handle's finalizer.
typedef struct box_s {
  sock_t *sock;
} box_t;

static void shared_release(shared_t *s) {
  if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    free(s->data);
    free(s);
  }
}

static void finalize_memory(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  shared_release((shared_t *)hint);
}

static void finalize_box(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  box_t *box = (box_t *)data;
  if (box->sock) box->sock->box = NULL;
  free(box);
}

static inline double *stats_of(sock_t *s) { return (double *)(s->shared->data + OFF_STATS); }

static void on_handle_closed(uv_handle_t *h) {
  sock_t *s = (sock_t *)h->data;
  shared_release(s->shared);
  free(s);
}

// Drops the JS references (needs a live env; not called from the env cleanup hook).
static void release_js(sock_t *s) {
  if (s->js_released) return;
  s->js_released = 1;
  napi_delete_reference(s->env, s->callback);
  napi_delete_reference(s->env, s->resource);
  napi_async_destroy(s->env, s->async);
}

// Stops polling and closes the fd at once (the port is free when this returns); the handle's memory goes in the
// libuv close callback, which runs after the current poll callback has returned.
static void close_socket(sock_t *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->box) {
    s->box->sock = NULL;
    s->box = NULL;
  }
  uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void env_cleanup(void *arg) {
  // Environment teardown (process exit, worker end) with the socket still open: release the fd and the handle.
  sock_t *s = (sock_t *)arg;
  s->js_released = 1;  // the env is going away with its references
  close_socket(s);
}

static void send_answers(sock_t *s, int n) {
  uint8_t *mem = s->shared->data;
  int32_t *send_len = (int32_t *)(mem + OFF_SEND_LEN);
  int32_t *port = (int32_t *)(mem + OFF_PORT);
  double *st = stats_of(s);
  unsigned m = 0;
  for (unsigned i = 0; i < (unsigned)n; i++) {
    int32_t len = send_len[i];
    if (len == 0) continue;
    if (len < 0 || len > SEND_SLOT || port[i] == 0) {
      st[ST_SEND_ERRORS]++;
      continue;
    }
    s->siov[m].iov_base = mem + OFF_SEND + (size_t)i * SEND_SLOT;
    s->siov[m].iov_len = (size_t)len;
    struct msghdr *h = &s->smsg[m].msg_hdr;
    h->msg_name = &s->raddr[i];
    h->msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
    h->msg_iov = &s->siov[m];
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    m++;
  }
  unsigned off = 0;
  while (off < m) {
    int r = sendmmsg(s->fd, s->smsg + off, m - off, MSG_DONTWAIT);
    if (r > 0) {
      off += (unsigned)r;
      st[ST_SENT] += r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      // Never wait for the socket: an answer that does not fit now is lost, like a datagram the kernel drops.
      st[ST_SEND_FULL] += m - off;
      st[ST_LAST_SEND_ERRNO] = errno;
      return;
    }
    // This message failed (the kernel reports the first failure only): count it and go on with the next.
    st[ST_SEND_ERRORS]++;
    st[ST_LAST_SEND_ERRNO] = r < 0 ? errno : 0;
    off++;
  }
}

// Fills the per-datagram metadata JS reads. Returns nothing: every datagram gets a recvLen (-1 = dropped).
static void describe_batch(sock_t *s, int n) {
  uint8_t *mem = s->shared->data;
  int32_t *recv_len = (int32_t *)(mem + OFF_RECV_LEN);
  int32_t *send_len = (int32_t *)(mem + OFF_SEND_LEN);
  int32_t *port = (int32_t *)(mem + OFF_PORT);
  int32_t *family = (int32_t *)(mem + OFF_FAMILY);
  uint8_t *addr = mem + OFF_ADDR;
  double *st = stats_of(s);
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &s->rmsg[i].msg_hdr;
    if (h->msg_flags & MSG_TRUNC) {
      recv_len[i] = -1;
      st[ST_TRUNCATED]++;
    } else {
      recv_len[i] = (int32_t)s->rmsg[i].msg_len;
    }
    uint8_t *a = addr + i * 16;
    const struct sockaddr_storage *ss = &s->raddr[i];
    if (ss->ss_family == AF_INET && h->msg_namelen >= sizeof(struct sockaddr_in)) {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
      memcpy(a, &sin->sin_addr, 4);
      memset(a + 4, 0, 12);
      family[i] = 4;
      port[i] = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6 && h->msg_namelen >= sizeof(struct sockaddr_in6)) {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
      memcpy(a, &sin6->sin6_addr, 16);
      family[i] = 6;
      port[i] = ntohs(sin6->sin6_port);
    } else {
      memset(a, 0, 16);
      family[i] = 0;
      port[i] = 0;
    }
  }
  memset(send_len, 0, sizeof(int32_t) * BATCH);
}

// Calls onBatch(n). Returns 0 when the JS call failed in a way that makes further calls pointless this wake-up.
static int call_js(sock_t *s, int n) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value fn, recv, argv[1], result;
  int ok = 1;
  if (napi_get_reference_value(env, s->callback, &fn) != napi_ok || fn == NULL ||
      napi_get_global(env, &recv) != napi_ok || napi_create_int32(env, n, &argv[0]) != napi_ok) {
    ok = 0;
  } else {
    s->in_callback = 1;
    // make_callback, not call_function: process.nextTick and promise jobs queued by the batch run after it, as
    // after any dgram 'message' event. Its receiver must be an object, hence the global.
    napi_status st = napi_make_callback(env, s->async, recv, fn, 1, argv, &result);
    s->in_callback = 0;
    if (st != napi_ok) {
      stats_of(s)[ST_CALLBACK_ERRORS]++;
      // A pending exception would make every later N-API call fail: take it and drop it.
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      } else {
        ok = 0;  // cannot run JS (environment shutting down)
      }
    }
  }
  napi_close_handle_scope(env, scope);
  return ok;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  sock_t *s = (sock_t *)handle->data;
  if (s->closed) return;
  double *st = stats_of(s);
  if (status < 0) {
    st[ST_POLL_ERRORS]++;
    return;
  }
  if (!(events & UV_READABLE)) return;
  st[ST_WAKEUPS]++;
  for (int round = 0; round < MAX_BATCHES_PER_WAKE; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      st[ST_RECV_ERRORS]++;
      st[ST_LAST_RECV_ERRNO] = errno;
      // A queued ICMP error (ECONNREFUSED, unreachable) is consumed by the call that reports it: read on.
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH || errno == EHOSTDOWN ||
          errno == ENETDOWN || errno == EPROTO || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
        continue;
      break;
    }
    if (n == 0) break;
    st[ST_RECEIVED] += n;
    st[ST_BATCHES]++;
    describe_batch(s, n);
    int ok = call_js(s, n);
    if (s->closed) {
      // onBatch (or a job it queued) closed the socket: nothing more to send or read.
      release_js(s);
      return;
    }
    if (!ok) break;
    send_answers(s, n);
    if (n < BATCH) break;  // the queue was empty a moment ago; the next readable event brings the rest
  }
}

// ---- JS-facing functions ------------------------------------------------------------------------------------

static napi_value throw_errno(napi_env env, const char *syscall, int err, const char *where) {
  // Same shape as Node's errors: code "EADDRINUSE", message "bind EADDRINUSE 127.0.0.1:53".
  const char *code = uv_err_name(uv_translate_sys_error(err));
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s %s: %s", syscall, code, where, strerror(err));
  napi_value ecode, emsg, error, esys, eno;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &ecode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &emsg);
  napi_create_error(env, ecode, emsg, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &esys);
  napi_set_named_property(env, error, "syscall", esys);
  napi_create_int32(env, -err, &eno);
  napi_set_named_property(env, error, "errno", eno);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_plain(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

// open(family: 4|6, host: string, port: number, reusePort: boolean, onBatch: (count) => void)
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5)
    return throw_plain(env, "open(family, host, port, reusePort, onBatch): 5 arguments expected");
  int32_t family = 0, port = -1;
  bool reuse = false;
  char host[64];
  size_t host_len = 0;
  napi_valuetype fntype;
  if (napi_get_value_int32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6))
    return throw_plain(env, "family must be 4 or 6");
  if (napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len) != napi_ok || host_len >= sizeof host - 1)
    return throw_plain(env, "host must be an address literal");
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535)
    return throw_plain(env, "port must be 0-65535");
  if (napi_get_value_bool(env, argv[3], &reuse) != napi_ok) return throw_plain(env, "reusePort must be a boolean");
  if (napi_typeof(env, argv[4], &fntype) != napi_ok || fntype != napi_function)
    return throw_plain(env, "onBatch must be a function");

  struct sockaddr_storage bind_addr;
  socklen_t bind_len;
  memset(&bind_addr, 0, sizeof bind_addr);
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&bind_addr;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) return throw_plain(env, "host is not an IPv4 address");
    bind_len = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&bind_addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) return throw_plain(env, "host is not an IPv6 address");
    bind_len = sizeof *sin6;
  }
  char where[96];
  snprintf(where, sizeof where, family == 6 ? "[%s]:%d" : "%s:%d", host, port);

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno, where);
  int one = 1;
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt", e, where);
  }
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt", e, where);
  }
  if (bind(fd, (struct sockaddr *)&bind_addr, bind_len) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e, where);
  }
  // A kernel without recvmmsg/sendmmsg (before 2.6.33 / 3.0) says so here, not in the poll callback. With a vector
  // length of 0 neither call touches a datagram.
  struct mmsghdr none;
  memset(&none, 0, sizeof none);
  if ((recvmmsg(fd, &none, 0, MSG_DONTWAIT, NULL) < 0 && errno == ENOSYS) || (sendmmsg(fd, &none, 0, MSG_DONTWAIT) < 0 && errno == ENOSYS)) {
    close(fd);
    return throw_errno(env, "recvmmsg", ENOSYS, where);
  }
  // Bigger kernel buffers absorb bursts while the loop is busy; the kernel caps them (net.core.rmem_max).
  int size = SOCKET_BUFFER;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  int bound_port = port;
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
    bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                   : ((struct sockaddr_in *)&bound)->sin_port);

  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    close(fd);
    return throw_plain(env, "no event loop");
  }
  sock_t *s = calloc(1, sizeof *s);
  shared_t *shared = calloc(1, sizeof *shared);
  box_t *box = calloc(1, sizeof *box);
  void *data = NULL;
  if (!s || !shared || !box || posix_memalign(&data, 64, SHARED_SIZE) != 0) {
    free(s);
    free(shared);
    free(box);
    close(fd);
    return throw_errno(env, "malloc", ENOMEM, where);
  }
  memset(data, 0, SHARED_SIZE);
  shared->data = data;
  shared->refs = 1;  // the socket's; the ArrayBuffer's is added once it exists
  s->shared = shared;
  s->fd = fd;
  s->env = env;
  for (int i = 0; i < BATCH; i++) {
    s->riov[i].iov_base = shared->data + OFF_RECV + (size_t)i * RECV_SLOT;
    s->riov[i].iov_len = RECV_SLOT;
    s->rmsg[i].msg_hdr.msg_name = &s->raddr[i];
    s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsg[i].msg_hdr.msg_iovlen = 1;
  }

  napi_value memory, handle, resource, name, result, vport;
  if (napi_create_external_arraybuffer(env, shared->data, SHARED_SIZE, finalize_memory, shared, &memory) != napi_ok) {
    free(box);
    close(fd);
    shared_release(shared);
    free(s);
    return throw_plain(env, "could not create the shared buffer (external ArrayBuffers not allowed here?)");
  }
  shared->refs++;  // released by the ArrayBuffer's finalizer
  if (napi_create_external(env, box, finalize_box, NULL, &handle) != napi_ok) {
    free(box);
    close(fd);
    shared_release(shared);
    free(s);
    return throw_plain(env, "could not create the socket handle");
  }
  // From here the box belongs to its JS handle (freed by its finalizer), the memory to its reference count.
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "STEERDNS_UDP_BATCH", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, resource, name, &s->async) != napi_ok) {
    close(fd);
    shared_release(shared);
    free(s);
    return throw_plain(env, "napi_async_init failed");
  }
  if (napi_create_reference(env, resource, 1, &s->resource) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &s->callback) != napi_ok) {
    napi_async_destroy(env, s->async);
    close(fd);
    shared_release(shared);
    free(s);
    return throw_plain(env, "napi_create_reference failed");
  }
  int rc = uv_poll_init(loop, &s->poll, fd);
  int initialized = rc == 0;
  s->poll.data = s;  // after init: the callbacks find their socket through it
  if (rc == 0) rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    release_js(s);
    close(fd);
    s->fd = -1;
    s->closed = 1;
    if (initialized) {
      uv_close((uv_handle_t *)&s->poll, on_handle_closed);  // frees s and its share of the memory
    } else {
      shared_release(shared);
      free(s);
    }
    return throw_errno(env, "uv_poll_start", -rc, where);
  }
  box->sock = s;
  s->box = box;
  napi_add_env_cleanup_hook(env, env_cleanup, s);

  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  napi_set_named_property(env, result, "memory", memory);
  napi_create_int32(env, bound_port, &vport);
  napi_set_named_property(env, result, "port", vport);
  return result;
}

// close(handle): stops polling and closes the fd now; safe to call twice, or from inside onBatch.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value undef;
  napi_get_undefined(env, &undef);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return undef;
  void *p = NULL;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) return undef;
  box_t *box = (box_t *)p;
  sock_t *s = box->sock;
  if (s == NULL) return undef;
  napi_remove_env_cleanup_hook(env, env_cleanup, s);
  int in_cb = s->in_callback;
  close_socket(s);
  // Inside onBatch the callback is still running: on_readable releases the references when it returns.
  if (!in_cb) release_js(s);
  return undef;
}

static void set_int(napi_env env, napi_value obj, const char *key, int64_t v) {
  napi_value x;
  napi_create_int64(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}

NAPI_MODULE_INIT() {
  napi_value fn, layout, names;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &fn);
  napi_set_named_property(env, exports, "close", fn);
  napi_create_object(env, &layout);
  set_int(env, layout, "batch", BATCH);
  set_int(env, layout, "recvSlot", RECV_SLOT);
  set_int(env, layout, "sendSlot", SEND_SLOT);
  set_int(env, layout, "recv", OFF_RECV);
  set_int(env, layout, "send", OFF_SEND);
  set_int(env, layout, "addr", OFF_ADDR);
  set_int(env, layout, "recvLen", OFF_RECV_LEN);
  set_int(env, layout, "sendLen", OFF_SEND_LEN);
  set_int(env, layout, "port", OFF_PORT);
  set_int(env, layout, "family", OFF_FAMILY);
  set_int(env, layout, "stats", OFF_STATS);
  set_int(env, layout, "size", SHARED_SIZE);
  napi_create_array_with_length(env, ST_COUNT, &names);
  for (uint32_t i = 0; i < ST_COUNT; i++) {
    napi_value n;
    napi_create_string_utf8(env, STAT_NAMES[i], NAPI_AUTO_LENGTH, &n);
    napi_set_element(env, names, i, n);
  }
  napi_set_named_property(env, layout, "statNames", names);
  napi_set_named_property(env, exports, "layout", layout);
  return exports;
}
