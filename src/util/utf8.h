#ifndef CIDRE_UTF8_H
#define CIDRE_UTF8_H

#include <stddef.h>

/*
 * The length (1-4) of the valid UTF-8 sequence at s, n bytes left
 * (n >= 1); 0 if the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF included); -1 if the
 * sequence is valid so far but cut by the end of the n bytes.
 */
int utf8_seq(const unsigned char *s, size_t n);

#endif
