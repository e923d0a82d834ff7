#ifndef KONTOR_IDP_USER_CMD_H
#define KONTOR_IDP_USER_CMD_H

/* `kontor-idp user add ...`: create a person account (demo seeding and
 * first administrators). argv[0] is "user". Exit code 0, 1 or 2. */
int kt_idp_user_main(int argc, char **argv);

#endif
