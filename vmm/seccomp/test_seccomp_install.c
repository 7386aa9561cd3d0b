/* The built-in filters at work: each role's thread is stopped with exit 148
 * and a line naming the call when it steps outside its list, and is left
 * alone inside it.  Every check runs in a forked child (test_seccomp_util.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "vmm/seccomp/seccomp_priv.h"
#include "vmm/seccomp/test_seccomp_util.h"

static struct seccomp_policy pol;

static void setup(void)
{
	char err[SECCOMP_ERR_MAX] = "";

	cr_assert_eq(seccomp_policy_builtin(&pol, err), 0, "%s", err);
}

static void teardown(void)
{
	seccomp_policy_free(&pol);
}

TestSuite(seccomp_install, .init = setup, .fini = teardown);

static int call_getpgid(void)
{
	syscall(SYS_getpgid, 0);
	return 0;
}

/* Checks of calls a sanitizer runtime needs cannot hold in that build. */
#ifdef KILN_SANITIZER_RUNTIME
#define SKIP_UNDER_SANITIZER() cr_skip_test("the sanitizer runtime's calls are allowed in this build")
#else
#define SKIP_UNDER_SANITIZER() do { } while (0)
#endif

static void expect_trap(const struct child_result *r, const char *role, const char *call)
{
	char want[128];

	cr_assert_eq(exit_code(r), SECCOMP_EXIT_BAD_SYSCALL, "status 0x%x, stderr: %s", r->status, r->err);
	snprintf(want, sizeof(want), "the %s thread made a forbidden system call %s (", role, call);
	cr_assert(strstr(r->err, want), "stderr: '%s', wanted '%s'", r->err, want);
}

Test(seccomp_install, every_role_traps_a_call_outside_its_list)
{
	for (int role = 0; role < SECCOMP_ROLE_NR; role++) {
		struct child_result r = run_filtered(&pol, role, call_getpgid);

		expect_trap(&r, seccomp_role_name((enum seccomp_role)role), "getpgid");
	}
}

Test(seccomp_install, unfiltered_child_runs_the_same_call)
{
	struct child_result r = run_filtered(&pol, -1, call_getpgid);

	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
}

static int null_fd(void)
{
	/* opened before the filter: vCPUs may not open files */
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return fd;
}

static int vcpu_run_ioctl(void)
{
	/* /dev/null answers ENOTTY: the filter let the call through */
	return ioctl(null_fd(), KVM_RUN, 0) < 0 && errno == ENOTTY ? 0 : 1;
}

static int vcpu_create_vm_ioctl(void)
{
	ioctl(null_fd(), KVM_CREATE_VM, 0);
	return 0;
}

Test(seccomp_install, vcpu_ioctls_are_restricted_by_request)
{
	struct child_result r;

	null_fd();
	r = run_filtered(&pol, SECCOMP_ROLE_VCPU, vcpu_run_ioctl);
	cr_assert_eq(exit_code(&r), 0, "KVM_RUN refused: %s", r.err);
	r = run_filtered(&pol, SECCOMP_ROLE_VCPU, vcpu_create_vm_ioctl);
	expect_trap(&r, "vcpu", "ioctl");
}

static int open_file(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0 ? 0 : 1;
}

Test(seccomp_install, vcpu_cannot_open_files_vmm_can)
{
	SKIP_UNDER_SANITIZER();
	struct child_result r = run_filtered(&pol, SECCOMP_ROLE_VCPU, open_file);

	expect_trap(&r, "vcpu", "openat");
	r = run_filtered(&pol, SECCOMP_ROLE_VMM, open_file);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
}

static int map_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int map_rw(void)
{
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED || munmap(p, 1 << 20);
}

Test(seccomp_install, no_role_maps_executable_memory)
{
	SKIP_UNDER_SANITIZER();
	for (int role = 0; role < SECCOMP_ROLE_NR; role++) {
		struct child_result r = run_filtered(&pol, role, map_rw);

		cr_assert_eq(exit_code(&r), 0, "%s: %s", seccomp_role_name(role), r.err);
		r = run_filtered(&pol, role, map_exec);
		expect_trap(&r, seccomp_role_name(role), "mmap");
	}
}

static int do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return 5; /* the fork went through: wrong */
}

Test(seccomp_install, vmm_and_api_cannot_fork)
{
	SKIP_UNDER_SANITIZER();
	struct child_result r = run_filtered(&pol, SECCOMP_ROLE_VMM, do_fork);

	expect_trap(&r, "vmm", "clone");
	r = run_filtered(&pol, SECCOMP_ROLE_API, do_fork);
	expect_trap(&r, "api", "clone");
}

static int vsock_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd < 0;
}

static int inet_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

Test(seccomp_install, vmm_sockets_are_unix_only)
{
	struct child_result r = run_filtered(&pol, SECCOMP_ROLE_VMM, vsock_socket);

	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	r = run_filtered(&pol, SECCOMP_ROLE_VMM, inet_socket);
	expect_trap(&r, "vmm", "socket");
}

/* A vCPU thread created by the filtered VMM thread, as InstanceStart does. */
static void *vcpu_thread(void *arg)
{
	int (*work)(void) = arg;

	if (seccomp_thread_install(SECCOMP_ROLE_VCPU))
		return (void *)1L;
	return (void *)(long)work();
}

static int run_in_vcpu_thread(int (*work)(void))
{
	pthread_t t;
	void *ret;

	if (pthread_create(&t, NULL, vcpu_thread, work))
		return 7;
	pthread_join(t, &ret);
	return (int)(long)ret;
}

static int stacked_vcpu_run(void)
{
	return run_in_vcpu_thread(vcpu_run_ioctl);
}

static int stacked_vcpu_open(void)
{
	return run_in_vcpu_thread(open_file);
}

Test(seccomp_install, vcpu_threads_of_the_vmm_thread_stack_their_filter)
{
	struct child_result r;

	null_fd();
	/* the VMM filter allows creating the thread and stacking the vcpu filter */
	r = run_filtered(&pol, SECCOMP_ROLE_VMM, stacked_vcpu_run);
	cr_assert_eq(exit_code(&r), 0, "status 0x%x: %s", r.status, r.err);
	SKIP_UNDER_SANITIZER();
	/* and the stacked filter takes away what vmm allows and vcpu does not */
	r = run_filtered(&pol, SECCOMP_ROLE_VMM, stacked_vcpu_open);
	expect_trap(&r, "vcpu", "openat");
}

static int api_work(void *arg)
{
	return *(int *)arg + (int)syscall(SYS_getpgid, 0) * 0; /* not in the api list */
}

static int api_run_as(void)
{
	int v = 3;

	return seccomp_run_as(SECCOMP_ROLE_API, api_work, &v);
}

Test(seccomp_install, run_as_runs_under_the_role_filter)
{
	struct child_result r = run_filtered(&pol, -1, api_run_as);

	expect_trap(&r, "api", "getpgid");
}

static int api_run_as_ok(void)
{
	int v = 3;

	return seccomp_run_as(SECCOMP_ROLE_API, (int (*)(void *))(void *)map_rw, &v) == 0 ? 4 : 1;
}

Test(seccomp_install, run_as_returns_the_result)
{
	struct child_result r = run_filtered(&pol, -1, api_run_as_ok);

	cr_assert_eq(exit_code(&r), 4, "%s", r.err);
}

Test(seccomp_install, no_active_policy_installs_nothing)
{
	seccomp_deactivate();
	cr_assert_eq(seccomp_thread_install(SECCOMP_ROLE_VCPU), 0);
	cr_assert_eq(syscall(SYS_getpgid, 0), getpgid(0));
}
