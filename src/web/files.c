/* Lookup in the embedded files (files.h). */
#include <string.h>

#include "web/files.h"

const char *web_file_get(const char *name, size_t *len)
{
	size_t i;

	for (i = 0; i < web_files_nr; i++)
		if (!strcmp(web_files[i].name, name)) {
			if (len)
				*len = strlen(web_files[i].data);
			return web_files[i].data;
		}
	return NULL;
}
