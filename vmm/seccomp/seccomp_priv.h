/* Private to vmm/seccomp, its tests and fuzz target. */
#ifndef KILN_SECCOMP_PRIV_H
#define KILN_SECCOMP_PRIV_H

#include "vmm/seccomp/thread_filter.h"

/* Sanitizer builds (ASan, for tests only) add the runtime's own calls to every
 * list (seccomp_policy.c); tests skip the checks those calls would defeat. */
#if defined(__SANITIZE_ADDRESS__)
#define KILN_SANITIZER_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KILN_SANITIZER_RUNTIME 1
#endif
#endif

/* "api", "vmm", "vcpu" -> role, or -1. */
int seccomp_role_parse(const char *name);

/* kiln's built-in lists (seccomp_rules.c). */
void seccomp_rules_builtin(struct seccomp_list lists[SECCOMP_ROLE_NR]);

/* Formats the SIGSYS report into buf (async-signal-safe: no stdio, no
 * allocation); returns its length.  Exposed so tests check the text. */
size_t seccomp_trap_format(char *buf, size_t size, const char *role, int nr, const char *name);

#endif
