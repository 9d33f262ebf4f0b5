/*
 * Hex digits: the one decoder for the places that read hex text (CHAP
 * values, NAA identifiers in the config, ISIDs in TransportIDs).
 */
#ifndef CTGT_BASE_HEX_H
#define CTGT_BASE_HEX_H

/* The value of one hex digit (either case), or -1. */
static inline int base_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
