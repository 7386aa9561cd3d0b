/*
 * Inside vmm/core's snapshots (snapshot.c): guest memory to and from the
 * memory file.  Not a public interface.
 */
#ifndef KILN_SNAPSHOT_MEM_H
#define KILN_SNAPSHOT_MEM_H

#include <stdint.h>

#include "vmm/compiler.h"
#include "vmm/core/snapshot.h"
#include "vmm/core/vm.h"
#include "vmm/snapshot/snap_state.h"

/* vm's RAM regions in memory-file order, as the vmstate records them. */
void snapshot_mem_layout(const struct vm *vm, struct snap_memory *m);

/*
 * Writes the memory file for p (Full or Diff, see snapshot.h) beside its
 * path and renames it over it when complete; afterwards the dirty log starts
 * from empty.  0 or -errno with err.
 */
int snapshot_mem_write(struct vm *vm, const struct snapshot_create_params *p, char err[VM_ERR_MAX])
	__must_check;

/*
 * Starts gmem's dirty tracking (vmm/mem/gmem.h) when vm logs dirty pages
 * (track_dirty_pages), so a Diff holds the pages kiln's devices wrote too,
 * not only the guest's.  Called when a VM is restored and after every
 * snapshot; vm_build should call it too (else the first Diff after a boot
 * falls back to every non-zero page).  0 or -ENOMEM with err.
 */
int snapshot_mem_track(struct vm *vm, char err[VM_ERR_MAX]) __must_check;

/* The saved layout is the one vm was built with (a crafted file may claim
 * another).  0 or -EINVAL with err. */
int snapshot_mem_check_layout(const struct vm *vm, const struct snap_memory *saved, char err[VM_ERR_MAX])
	__must_check;

/* Opens a memory file that holds at least need bytes: the fd, or -errno with err. */
int snapshot_mem_open(const char *path, uint64_t need, char err[VM_ERR_MAX]) __must_check;

/* Uffd backend: registers vm's (anonymous) RAM with a new userfaultfd and
 * hands it and the layout m to the page server listening on path (kept in
 * vm->mem_uffd / vm->mem_handler_conn).  0 or -errno with err. */
int snapshot_mem_uffd(struct vm *vm, const struct snap_memory *m, const char *path, char err[VM_ERR_MAX])
	__must_check;

#endif
