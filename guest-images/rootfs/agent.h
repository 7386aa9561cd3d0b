/*
 * The kiln init agent's shared pieces: the console line helper and file
 * reader kiln-init.c defines, and the device checks of checks_net.c and
 * checks_dev.c.
 *
 * A check is called with its argument ("" when none was given) and a detail
 * buffer for the one line the host test reads; it returns 1 for PASS and 0
 * for FAIL.  A check that needs the host to act mid-way (connect, PATCH the
 * balloon) first prints one "kiln-init: <what> ..." line through agent_say()
 * and then waits, always with a timeout, so a host that never acts ends in a
 * FAIL line rather than a hung guest.  Details are "key=value" words where
 * the host parses them.
 */
#ifndef KILN_AGENT_H
#define KILN_AGENT_H

#include <stddef.h>

/* Every wait inside a check ends after this long at most. */
#define AGENT_WAIT_S 120

void agent_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads up to size-1 bytes of a small file and strips the trailing newline; 0 or -errno. */
int agent_file_read(const char *path, char *buf, size_t size);
/* Milliseconds on CLOCK_MONOTONIC. */
long long agent_now_ms(void);
/* Reads until '\n', EOF or a full buffer (one byte at a time: the peer's
 * next bytes stay unread); the line's length without '\n', or -errno. */
ssize_t agent_read_line(int fd, char *buf, size_t size);

/* checks_net.c */
int check_ifup(const char *arg, char *detail, size_t len);
int check_ping(const char *arg, char *detail, size_t len);
int check_tcpsend(const char *arg, char *detail, size_t len);
int check_tcprecv(const char *arg, char *detail, size_t len);
int check_vsockecho(const char *arg, char *detail, size_t len);
int check_vsockconnect(const char *arg, char *detail, size_t len);

/* checks_dev.c */
int check_blkseq(const char *arg, char *detail, size_t len);
int check_blkrand(const char *arg, char *detail, size_t len);
int check_vsocksend(const char *arg, char *detail, size_t len);
int check_vsockrecv(const char *arg, char *detail, size_t len);
int check_hwrng(const char *arg, char *detail, size_t len);
int check_blkrate(const char *arg, char *detail, size_t len);
int check_blkwrite(const char *arg, char *detail, size_t len);
int check_blkverify(const char *arg, char *detail, size_t len);
int check_blkro(const char *arg, char *detail, size_t len);
int check_touchmem(const char *arg, char *detail, size_t len);
int check_balloon(const char *arg, char *detail, size_t len);

#endif
