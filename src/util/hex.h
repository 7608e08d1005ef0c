#ifndef CIDRE_HEX_H
#define CIDRE_HEX_H

/* The value (0-15) of hex digit c, either case; -1 if c is not one. */
int hex_value(int c);

#endif
