#ifndef KONTOR_IDP_DISCOVERY_H
#define KONTOR_IDP_DISCOVERY_H

#include "kontor/config.h"

/* The OpenID Provider Metadata document for cfg, serialised once per
 * runtime. Caller frees. */
char *kt_discovery_build(const struct kt_config *cfg);

#endif
