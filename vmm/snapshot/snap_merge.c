/*
 * kiln-snapshot-merge --base-file BASE --diff-file DIFF
 *
 * Writes every page a Diff memory file holds onto its base (a Full memory
 * file, or an earlier merge), in place, so BASE becomes the memory of the
 * Diff snapshot.  A Diff file is sparse: kiln writes only the dirtied pages
 * and leaves holes elsewhere, so the data extents (SEEK_DATA / SEEK_HOLE) are
 * exactly what to copy.  Both files must have the same size (the guest's
 * memory size).  Exit 0, or 1 with one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MERGE_CHUNK (1u << 20)

static int merge_copy(int from, int to, off_t off, off_t len, uint8_t *buf)
{
	while (len > 0) {
		size_t want = len > MERGE_CHUNK ? MERGE_CHUNK : (size_t)len;
		ssize_t n = pread(from, buf, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(to, buf + done, (size_t)(n - done), off + done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			done += w;
		}
		off += n;
		len -= n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "base-file", required_argument, NULL, 'b' },
		{ "diff-file", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *base = NULL, *diff = NULL;
	struct stat bs, ds;
	uint64_t copied = 0;
	uint8_t *buf;
	off_t off = 0;
	int c, bfd, dfd, ret = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'b')
			base = optarg;
		else if (c == 'd')
			diff = optarg;
		else {
			fprintf(stderr, "usage: kiln-snapshot-merge --base-file BASE --diff-file DIFF\n");
			return c == 'h' ? 0 : 1;
		}
	}
	if (!base || !diff || optind != argc) {
		fprintf(stderr, "usage: kiln-snapshot-merge --base-file BASE --diff-file DIFF\n");
		return 1;
	}
	bfd = open(base, O_RDWR | O_CLOEXEC);
	dfd = open(diff, O_RDONLY | O_CLOEXEC);
	if (bfd < 0 || dfd < 0) {
		fprintf(stderr, "kiln-snapshot-merge: cannot open %s: %s\n", bfd < 0 ? base : diff, strerror(errno));
		return 1;
	}
	if (fstat(bfd, &bs) || fstat(dfd, &ds) || !S_ISREG(bs.st_mode) || !S_ISREG(ds.st_mode)) {
		fprintf(stderr, "kiln-snapshot-merge: both files must be regular files\n");
		return 1;
	}
	if (bs.st_size != ds.st_size) {
		fprintf(stderr, "kiln-snapshot-merge: %s has %lld bytes but %s has %lld: not the same VM's memory\n",
			base, (long long)bs.st_size, diff, (long long)ds.st_size);
		return 1;
	}
	buf = malloc(MERGE_CHUNK);
	if (!buf) {
		fprintf(stderr, "kiln-snapshot-merge: out of memory\n");
		return 1;
	}
	while (off < ds.st_size) {
		off_t data = lseek(dfd, off, SEEK_DATA), hole;

		if (data < 0) {
			if (errno != ENXIO) /* ENXIO: no data after off */
				ret = -errno;
			break;
		}
		hole = lseek(dfd, data, SEEK_HOLE);
		if (hole < 0) {
			ret = -errno;
			break;
		}
		ret = merge_copy(dfd, bfd, data, hole - data, buf);
		if (ret)
			break;
		copied += (uint64_t)(hole - data);
		off = hole;
	}
	free(buf);
	if (!ret && fsync(bfd))
		ret = -errno;
	close(dfd);
	if (close(bfd) && !ret)
		ret = -errno;
	if (ret) {
		fprintf(stderr, "kiln-snapshot-merge: %s: %s\n", base, strerror(-ret));
		return 1;
	}
	printf("merged %llu bytes of %s onto %s\n", (unsigned long long)copied, diff, base);
	return 0;
}
