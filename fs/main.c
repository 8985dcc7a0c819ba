// SPDX-License-Identifier: GPL-2.0-or-later
/* main.c - placeholder until the passthrough lands */
#include <stdio.h>
int main(void)
{
	return 1;
}
