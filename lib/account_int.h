#ifndef KONTOR_ACCOUNT_INT_H
#define KONTOR_ACCOUNT_INT_H

/*
 * What the account model's Lua scripts share (account.c, and migjob.c,
 * whose scripts write whole migrated accounts with the same rules): the
 * audit stream, record digests, merge resolution and identifier indexes.
 * Not a public API.
 */

#define AUDIT_KEY "kt:audit"
#define AUDIT_MAXLEN "1000000"

/* Shared Lua prelude: helpers every script uses. */
#define LUA_PRELUDE                                                            \
	"local function hgetall(k)\n"                                          \
	"  local a = redis.call('HGETALL', k)\n"                               \
	"  if #a == 0 then return nil end\n"                                   \
	"  local t = {}\n"                                                     \
	"  for i = 1, #a, 2 do t[a[i]] = a[i + 1] end\n"                       \
	"  return t\n"                                                         \
	"end\n"                                                                \
	"local function digest(t)\n"                                           \
	"  if t == nil then return '' end\n"                                   \
	"  local keys = {}\n"                                                  \
	"  for k in pairs(t) do keys[#keys + 1] = k end\n"                     \
	"  table.sort(keys)\n"                                                 \
	"  local parts = {}\n"                                                 \
	"  for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. t[k] "  \
	"end\n"                                                                \
	"  return redis.sha1hex(table.concat(parts, '\\n'))\n"                 \
	"end\n"                                                                \
	"local function audit(actor, action, object, before, after, now)\n"    \
	"  redis.call('XADD', '" AUDIT_KEY "', 'MAXLEN', '~', " AUDIT_MAXLEN   \
	", '*',\n"                                                             \
	"    'time', now, 'actor', actor, 'action', action, 'object', "        \
	"object,\n"                                                            \
	"    'before', digest(before), 'after', digest(after))\n"              \
	"end\n"                                                                \
	"local function fail(code, msg) return redis.error_reply(code .. ' ' " \
	".. msg) end\n"                                                        \
	"local function resolve(oid)\n"                                        \
	"  local seen = 0\n"                                                   \
	"  local o = hgetall('kt:org:{' .. oid .. '}')\n"                      \
	"  local from = nil\n"                                                 \
	"  while o and o.status == 'merged' and o.merged_into and seen < 8 "   \
	"do\n"                                                                 \
	"    from = from or oid\n"                                             \
	"    oid = o.merged_into\n"                                            \
	"    o = hgetall('kt:org:{' .. oid .. '}')\n"                          \
	"    seen = seen + 1\n"                                                \
	"  end\n"                                                              \
	"  if o and from then o.resolved_from = from end\n"                    \
	"  return o, oid\n"                                                    \
	"end\n"                                                                \
	"local IDX = {vat = 'vat_valid', taxno = 'taxno_valid', wid = "        \
	"'wid_valid'}\n"                                                       \
	"local function idx_keys(o)\n"                                         \
	"  local t = {}\n"                                                     \
	"  for kind, flag in pairs(IDX) do\n"                                  \
	"    if o[kind] and o[kind] ~= '' and o[flag] == '1' then\n"           \
	"      t[#t + 1] = 'kt:orgidx:' .. kind .. ':{' .. o[kind] .. '}'\n"   \
	"    end\n"                                                            \
	"  end\n"                                                              \
	"  if o.hr_valid == '1' and o.hr_number and o.hr_number ~= '' then\n"  \
	"    t[#t + 1] = 'kt:orgidx:hr:{' .. (o.hr_court or '') .. '|' ..\n"   \
	"      (o.hr_type or '') .. '|' .. o.hr_number .. '}'\n"               \
	"  end\n"                                                              \
	"  return t\n"                                                         \
	"end\n"                                                                \
	"local OWNED = {id = true, version = true, created_at = true,\n"       \
	"  updated_at = true, merged_into = true, resolved_from = true}\n"     \
	"local function bad_fields(f, creating)\n"                             \
	"  for k, v in pairs(f) do\n"                                          \
	"    if OWNED[k] and not (creating and k == 'id') then\n"              \
	"      return 'field ' .. k .. ' cannot be changed'\n"                 \
	"    end\n"                                                            \
	"    if k == 'status' and v ~= 'active' and v ~= 'suspended' then\n"   \
	"      return 'status must be active or suspended'\n"                  \
	"    end\n"                                                            \
	"  end\n"                                                              \
	"end\n"                                                                \
	"local function merged(oid, o)\n"                                      \
	"  return fail('INVALID', 'organisation ' .. oid .. ' is merged "      \
	"into ' .. (o.merged_into or '?'))\n"                                  \
	"end\n"

/*
 * The kt_ error code of a script's error reply: the scripts fail with
 * "NOTFOUND ...", "CONFLICT ...", "INVALID ..." or "DENIED ..." (fail()
 * above); anything else is KT_ERR_REDIS.
 */
int kt_account_lua_error(const char *msg);

#endif
