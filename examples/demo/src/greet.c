/* greet: the demo project's program. greet NAME prints a greeting. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 2 || !argv[1][0]) {
		fprintf(stderr, "usage: greet NAME\n");
		return 2;
	}
	if (strlen(argv[1]) > 64) {
		fprintf(stderr, "greet: name too long\n");
		return 1;
	}
	printf("Hello, %s!\n", argv[1]);
	return 0;
}
