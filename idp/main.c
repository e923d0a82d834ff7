#include <stdio.h>
#include <string.h>

#include "kontor/version.h"

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("kontor-idp %s (%s)\n", KT_VERSION, KT_VERSION_GIT);
		return 0;
	}
	return 2;
}
