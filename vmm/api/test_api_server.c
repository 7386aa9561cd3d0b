/*
 * The HTTP server on a real Unix socket, with the fake VMM answering in the
 * server thread: socket-path rules, request/response framing, the body limit,
 * and that garbage or stalled clients leave the server answering.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/api/api_fake.h"
#include "vmm/api/api_server.h"
#include "vmm/log/log.h"

static char dir[64], sock_path[128];
static struct api_fake fake;
static struct api_server srv;
static bool started;

static void setup(void)
{
	log_set_level(LOG_LEVEL_OFF);
	snprintf(dir, sizeof(dir), "/tmp/kiln-api-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	api_fake_init(&fake);
}

static void teardown(void)
{
	if (started)
		api_server_stop(&srv);
	started = false;
	api_fake_free(&fake);
	unlink(sock_path);
	rmdir(dir);
}

TestSuite(api_server, .init = setup, .fini = teardown, .timeout = 30);

static void start(void)
{
	struct api_dispatcher d = { .ops = &api_fake_ops, .opaque = &fake };
	char err[API_SERVER_ERR_MAX] = "";

	cr_assert_eq(api_server_start(&srv, sock_path, &d, err), 0, "%s", err);
	started = true;
}

static int connect_api_timeout(struct timeval tv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int connect_api(void)
{
	return connect_api_timeout((struct timeval){ .tv_sec = 5 });
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return; /* the server may close early (oversized bodies) */
		data += n;
		len -= (size_t)n;
	}
}

/* Reads until the server closes (requests say "Connection: close") or 5 s pass. */
static char *read_all(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

static char *exchange(const char *raw, size_t len)
{
	int fd = connect_api();
	char *resp;

	send_all(fd, raw, len);
	resp = read_all(fd);
	close(fd);
	return resp;
}

static char *request(const char *method, const char *path, const char *body)
{
	char raw[1024];
	int n;

	if (body)
		n = snprintf(raw, sizeof(raw),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
			     method, path, strlen(body), body);
	else
		n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
			     method, path);
	return exchange(raw, (size_t)n);
}

static void expect_alive(void)
{
	char *r = request("GET", "/", NULL);

	cr_expect(!strncmp(r, "HTTP/1.1 200", 12), "server not answering: %s", r);
	free(r);
}

Test(api_server, get_put_and_faults)
{
	char *r;

	start();
	r = request("GET", "/", NULL);
	cr_expect(!strncmp(r, "HTTP/1.1 200", 12), "%s", r);
	cr_expect(strstr(r, "application/json"), "%s", r);
	cr_expect(strstr(r, "\"state\":\"Not started\""), "%s", r);
	free(r);

	/* Content-Type is ignored (curl --data sends form-urlencoded). */
	r = request("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	cr_expect(!strncmp(r, "HTTP/1.1 204", 12), "%s", r);
	free(r);
	cr_expect_eq(fake.cfg.machine.vcpu_count, 2);

	r = request("PUT", "/nowhere", "{}");
	cr_expect(!strncmp(r, "HTTP/1.1 400", 12), "%s", r);
	cr_expect(strstr(r, "{\"fault_message\":\"Invalid request method and/or path: PUT nowhere.\"}"), "%s", r);
	free(r);
}

Test(api_server, keep_alive_serves_many_requests_on_one_connection)
{
	const char *one = "GET /version HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[8192];
	size_t got = 0;
	int fd, seen = 0;

	start();
	fd = connect_api();
	for (int i = 0; i < 50; i++)
		send_all(fd, one, strlen(one));
	while (seen < 50) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		char *p;

		cr_assert_gt(n, 0, "connection ended after %d responses", seen);
		got += (size_t)n;
		buf[got] = '\0';
		while ((p = strstr(buf, "firecracker_version"))) {
			seen++;
			got -= (size_t)(p + 1 - buf);
			memmove(buf, p + 1, got + 1);
		}
	}
	close(fd);
}

Test(api_server, body_limit)
{
	size_t n = API_BODY_MAX + 1;
	char *raw = malloc(n + 256), *r;
	int hl;

	start();
	/* Declared too large: refused before the body is read. */
	hl = sprintf(raw, "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
	memset(raw + hl, ' ', n);
	r = exchange(raw, (size_t)hl + n);
	cr_expect(!strncmp(r, "HTTP/1.1 400", 12), "%s", r);
	cr_expect(strstr(r, "larger than the limit of 51200"), "%s", r);
	free(r);

	/* Chunked, no length given: refused once it passes the limit. */
	hl = sprintf(raw, "PUT /machine-config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", n);
	memset(raw + hl, ' ', n);
	memcpy(raw + hl + n, "\r\n0\r\n\r\n", 7);
	r = exchange(raw, (size_t)hl + n + 7);
	cr_expect(!strncmp(r, "HTTP/1.1 400", 12), "%s", r);
	cr_expect(strstr(r, "larger than the limit"), "%s", r);
	free(r);
	free(raw);

	/* A chunked body that never ends is cut off once past API_DRAIN_MAX. */
	{
		char chunk[8192 + 16];
		int fd = connect_api();
		size_t sent = 0;
		bool cut = false;

		const char *head = "PUT /vm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

		send_all(fd, head, strlen(head));
		hl = sprintf(chunk, "2000\r\n");
		memset(chunk + hl, 'x', 8192);
		memcpy(chunk + hl + 8192, "\r\n", 2);
		while (sent < 4 * API_DRAIN_MAX) {
			ssize_t w = send(fd, chunk, (size_t)hl + 8194, MSG_NOSIGNAL);

			if (w <= 0) {
				cut = true;
				break;
			}
			sent += (size_t)w;
		}
		cr_expect(cut, "still reading after %zu bytes", sent);
		cr_expect_leq(sent, 2 * API_DRAIN_MAX + 65536 * 8);
		close(fd);
	}
	cr_expect_eq(fake.calls, 0);
	expect_alive();
}

Test(api_server, garbage_and_stalled_clients)
{
	static const char *const garbage[] = {
		"\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
		"PUT /actions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"action",
		"GET / HTTP/1.1\r\nHost: x\r\nX: \x01\x02\xff\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS hello */
		"GET /",
	};
	int stalled;

	start();
	for (size_t i = 0; i < ARRAY_SIZE(garbage); i++) {
		/* Some get an error reply, some are waited on until they time out
		 * (libmicrohttpd ignores a half-close): read briefly either way. */
		int fd = connect_api_timeout((struct timeval){ .tv_usec = 200 * 1000 });

		send_all(fd, garbage[i], strlen(garbage[i]));
		shutdown(fd, SHUT_WR);
		free(read_all(fd));
		close(fd);
		expect_alive();
	}
	/* A client that sends half a request and waits does not hold up others. */
	stalled = connect_api();
	send_all(stalled, "PUT /machine-config HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"vcpu", 56);
	expect_alive();
	close(stalled);
	cr_expect_neq(fake.last_op, API_OP_PUT_MACHINE_CONFIG);
}

Test(api_server, socket_path_rules)
{
	char err[API_SERVER_ERR_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	/* A regular file is refused and left alone. */
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_expect_eq(api_socket_listen(sock_path, err), -EEXIST);
	cr_expect(strstr(err, "not a socket"), "%s", err);
	cr_expect_eq(stat(sock_path, &st), 0);
	cr_expect(S_ISREG(st.st_mode));
	unlink(sock_path);

	/* A stale socket (its process is gone) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	start();
	expect_alive();

	/* A live one is refused. */
	cr_expect_eq(api_socket_listen(sock_path, err), -EADDRINUSE, "%s", err);
	expect_alive();

	/* Stopping removes the socket. */
	api_server_stop(&srv);
	started = false;
	cr_expect_neq(stat(sock_path, &st), 0);

	/* Paths that do not fit sun_path. */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	cr_expect_eq(api_socket_listen(longp, err), -ENAMETOOLONG);
	cr_expect_eq(api_socket_listen("", err), -ENAMETOOLONG);
}
