/* Small compiler helpers shared by every kiln unit. */
#ifndef KILN_COMPILER_H
#define KILN_COMPILER_H

#define __must_check __attribute__((warn_unused_result))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
