/*
 * libFuzzer harness for the configuration parser: config_parse() and the
 * value parsers (sizes, portals, iSCSI names) on arbitrary bytes. Only the
 * pure functions: nothing here touches the file system. With -Dfuzz=true
 * (clang) it is a real fuzzer; otherwise tests/fuzz/driver.c replays the
 * corpus next to it in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_msgs msgs = { 0 };
	struct iscsi_portal_config pc;
	struct config *c = NULL;
	char *text = malloc(size + 1);
	uint64_t v;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_parse(text, &c, &msgs) == 0)
		config_free(c);
	config_msgs_free(&msgs);
	config_size_parse(text, &v);
	config_portal_parse(text, &pc);
	config_iscsi_name_check(text);
	free(text);
	return 0;
}
