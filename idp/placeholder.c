/* Removed once the first handler lands: a static library needs a source. */
int kt_idp_placeholder(void);
int kt_idp_placeholder(void)
{
	return 0;
}
