/* Terminal raw mode with restore on every exit path; see console.h. */
#include "vmm/core/console.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Terminal state is a process property: one saved copy, cleared on restore. */
static struct {
	int fd;
	bool saved;
	struct termios orig;
} console_state = { .fd = -1 };

void console_restore(void)
{
	if (console_state.saved) {
		tcsetattr(console_state.fd, TCSANOW, &console_state.orig);
		console_state.saved = false;
	}
}

static void console_fatal_signal(int sig)
{
	console_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int console_raw_enter(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS };
	struct termios raw;

	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &console_state.orig))
		return -errno;
	raw = console_state.orig;
	/* Like cfmakeraw, but keep output post-processing (\n -> \r\n) so host
	 * log lines stay readable between guest output. */
	raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &raw))
		return -errno;
	console_state.fd = fd;
	console_state.saved = true;
	atexit(console_restore);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa = { .sa_handler = console_fatal_signal, .sa_flags = SA_RESETHAND };
		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
	return 0;
}
