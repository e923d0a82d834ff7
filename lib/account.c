/*
 * Organisations, memberships, invitations and the audit stream.
 *
 * Each operation is one Lua script, so an account change, its index
 * updates and its audit entry are atomic. Scripts take JSON in ARGV and
 * answer JSON (Redis's cjson), which keeps the C side to one completion
 * path. Script errors are "<CODE> <message>" error replies, mapped to
 * KT_ERR_* here.
 *
 * Key schema (docs/data-model.md):
 *   kt:org:{<oid>}               HASH   organisation fields
 *   kt:org:{<oid>}:members       HASH   person id ->
 * {"role","granted_by","granted_at"} kt:org:{<oid>}:sources       SET
 * "LAND:legacy-id" kt:person:{<pid>}:orgs       HASH   org id -> role (index;
 * the org's member list is authoritative) kt:person:{<pid>}:lastorg    HASH
 * client_id -> org id kt:person:{<pid>}:sessions   SET    session ids (pruned
 * lazily) kt:orgidx:<kind>:{<value>}   STRING org id (vat, hr, taxno, wid,
 * source) kt:invite:{<hash>}           STRING JSON invitation, TTL kt:audit
 * STREAM audit entries
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/account.h"
#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "account_int.h"
#include "store_int.h"

/* ARGV: fields JSON, sources JSON array, actor, now */
static const char lua_org_create[] = LUA_PRELUDE
    "local f = cjson.decode(ARGV[1])\n"
    "local sources = cjson.decode(ARGV[2])\n"
    "local okey = 'kt:org:{' .. f.id .. '}'\n"
    "local bad = bad_fields(f, true)\n"
    "if bad then return fail('INVALID', bad) end\n"
    "if redis.call('EXISTS', okey) == 1 then return fail('CONFLICT', "
    "'organisation ' .. f.id .. ' exists') end\n"
    "local keys = idx_keys(f)\n"
    "for _, k in ipairs(keys) do\n"
    "  local owner = redis.call('GET', k)\n"
    "  if owner then return fail('CONFLICT', 'identifier ' .. "
    "k:match('{(.*)}') "
    ".. ' belongs to organisation ' .. owner) end\n"
    "end\n"
    "for _, s in ipairs(sources) do\n"
    "  local owner = redis.call('GET', 'kt:orgidx:source:{' .. s .. '}')\n"
    "  if owner then return fail('CONFLICT', 'source ' .. s .. ' belongs to "
    "organisation ' .. owner) end\n"
    "end\n"
    "f.status = f.status or 'active'\n"
    "f.version = '1'\n"
    "f.created_at = ARGV[4]\n"
    "f.updated_at = ARGV[4]\n"
    "local flat = {}\n"
    "for k, v in pairs(f) do if v ~= '' then flat[#flat + 1] = k; "
    "flat[#flat + 1] = v end end\n"
    "redis.call('HSET', okey, unpack(flat))\n"
    "for _, k in ipairs(keys) do redis.call('SET', k, f.id) end\n"
    "for _, s in ipairs(sources) do\n"
    "  redis.call('SET', 'kt:orgidx:source:{' .. s .. '}', f.id)\n"
    "  redis.call('SADD', okey .. ':sources', s)\n"
    "end\n"
    /* Digest what was stored (empty fields are not), so that this
     * entry's "after" equals the next change's "before". */
    "local stored = hgetall(okey)\n"
    "audit(ARGV[3], 'org.create', 'org:' .. f.id, nil, stored, ARGV[4])\n"
    "return cjson.encode(stored)\n";

/* ARGV: oid */
static const char lua_org_get[] = LUA_PRELUDE
    "local o = resolve(ARGV[1])\n"
    "if not o then return fail('NOTFOUND', 'no organisation ' .. ARGV[1]) "
    "end\n"
    "return cjson.encode(o)\n";

/* ARGV: oid, expected version, fields JSON, actor, now, action */
static const char lua_org_update[] = LUA_PRELUDE
    "local okey = 'kt:org:{' .. ARGV[1] .. '}'\n"
    "local before = hgetall(okey)\n"
    "if not before then return fail('NOTFOUND', 'no organisation ' .. "
    "ARGV[1]) end\n"
    /* A merged organisation is history: its identifiers now lead to the
     * survivor, and rewriting them here would take them back. */
    "if before.status == 'merged' then return merged(ARGV[1], before) "
    "end\n"
    "if ARGV[2] ~= '0' and before.version ~= ARGV[2] then\n"
    "  return fail('CONFLICT', 'version ' .. ARGV[2] .. ' is stale (now ' "
    ".. before.version .. ')')\n"
    "end\n"
    "local f = cjson.decode(ARGV[3])\n"
    "local bad = bad_fields(f, false)\n"
    "if bad then return fail('INVALID', bad) end\n"
    "local after = {}\n"
    "for k, v in pairs(before) do after[k] = v end\n"
    "for k, v in pairs(f) do\n"
    "  if v == '' then after[k] = nil else after[k] = v end\n"
    "end\n"
    /* A changed identifier is only as valid as the caller says: the old
     * flag belonged to the old value. */
    "for kind, flag in pairs(IDX) do\n"
    "  if f[kind] and not f[flag] then after[flag] = '0' end\n"
    "end\n"
    "if (f.hr_court or f.hr_type or f.hr_number) and not f.hr_valid then\n"
    "  after.hr_valid = '0'\n"
    "end\n"
    /* Nothing to change: no new version, no audit entry. */
    "local same = true\n"
    "for k, v in pairs(after) do if before[k] ~= v then same = false end "
    "end\n"
    "for k in pairs(before) do if after[k] == nil then same = false end "
    "end\n"
    "if same then before.unchanged = '1'; return cjson.encode(before) "
    "end\n"
    "local old_idx, new_idx = {}, {}\n"
    "for _, k in ipairs(idx_keys(before)) do old_idx[k] = true end\n"
    "for _, k in ipairs(idx_keys(after)) do new_idx[k] = true end\n"
    "for k in pairs(new_idx) do\n"
    "  if not old_idx[k] then\n"
    "    local owner = redis.call('GET', k)\n"
    "    if owner and owner ~= ARGV[1] then return fail('CONFLICT', "
    "'identifier ' .. k:match('{(.*)}') .. ' belongs to organisation ' .. "
    "owner) end\n"
    "  end\n"
    "end\n"
    "for k in pairs(old_idx) do if not new_idx[k] then redis.call('DEL', "
    "k) end end\n"
    "for k in pairs(new_idx) do redis.call('SET', k, ARGV[1]) end\n"
    "after.version = tostring(tonumber(before.version or '0') + 1)\n"
    "after.updated_at = ARGV[5]\n"
    "redis.call('DEL', okey)\n"
    "local flat = {}\n"
    "for k, v in pairs(after) do flat[#flat + 1] = k; flat[#flat + 1] = v "
    "end\n"
    "redis.call('HSET', okey, unpack(flat))\n"
    "audit(ARGV[4], ARGV[6], 'org:' .. ARGV[1], before, after, ARGV[5])\n"
    "return cjson.encode(after)\n";

/* KEYS: index key; ARGV: kind, value */
static const char lua_org_find[] = LUA_PRELUDE
    "local oid = ARGV[2]\n"
    "if ARGV[1] ~= 'id' then\n"
    "  oid = redis.call('GET', KEYS[1])\n"
    "  if not oid then return fail('NOTFOUND', 'no organisation with ' .. "
    "ARGV[1] .. ' ' .. ARGV[2]) end\n"
    "end\n"
    "local o = resolve(oid)\n"
    "if not o then return fail('NOTFOUND', 'no organisation ' .. oid) end\n"
    "return cjson.encode(o)\n";

/* ARGV: loser, survivor, actor, now */
static const char lua_org_merge[] = LUA_PRELUDE
    "local RANK = {representative = 1, member = 2, admin = 3}\n"
    "if ARGV[1] == ARGV[2] then return fail('INVALID', 'cannot merge an "
    "organisation into itself') end\n"
    "local lkey, skey = 'kt:org:{' .. ARGV[1] .. '}', 'kt:org:{' .. "
    "ARGV[2] .. '}'\n"
    "local loser, survivor = hgetall(lkey), hgetall(skey)\n"
    "if not loser then return fail('NOTFOUND', 'no organisation ' .. "
    "ARGV[1]) end\n"
    "if not survivor then return fail('NOTFOUND', 'no organisation ' .. "
    "ARGV[2]) end\n"
    "if loser.status == 'merged' then return fail('INVALID', ARGV[1] .. ' "
    "is already merged') end\n"
    "if survivor.status == 'merged' then return fail('INVALID', ARGV[2] .. "
    "' is merged itself') end\n"
    "local members = redis.call('HGETALL', lkey .. ':members')\n"
    "for i = 1, #members, 2 do\n"
    "  local pid, m = members[i], cjson.decode(members[i + 1])\n"
    "  local cur = redis.call('HGET', skey .. ':members', pid)\n"
    "  if cur then\n"
    "    local c = cjson.decode(cur)\n"
    "    if (RANK[m.role] or 0) > (RANK[c.role] or 0) then c.role = m.role "
    "end\n"
    "    m = c\n"
    "  end\n"
    "  redis.call('HSET', skey .. ':members', pid, cjson.encode(m))\n"
    "  redis.call('HDEL', 'kt:person:{' .. pid .. '}:orgs', ARGV[1])\n"
    "  redis.call('HSET', 'kt:person:{' .. pid .. '}:orgs', ARGV[2], "
    "m.role)\n"
    "end\n"
    "redis.call('DEL', lkey .. ':members')\n"
    "for _, s in ipairs(redis.call('SMEMBERS', lkey .. ':sources')) do\n"
    "  redis.call('SADD', skey .. ':sources', s)\n"
    "  redis.call('SET', 'kt:orgidx:source:{' .. s .. '}', ARGV[2])\n"
    "end\n"
    "redis.call('DEL', lkey .. ':sources')\n"
    "for _, k in ipairs(idx_keys(loser)) do\n"
    "  if not redis.call('GET', k) or redis.call('GET', k) == ARGV[1] then\n"
    "    redis.call('SET', k, ARGV[2])\n"
    "  end\n"
    "end\n"
    "local after = {}\n"
    "for k, v in pairs(loser) do after[k] = v end\n"
    "after.status = 'merged'\n"
    "after.merged_into = ARGV[2]\n"
    "after.version = tostring(tonumber(loser.version or '0') + 1)\n"
    "after.updated_at = ARGV[4]\n"
    "redis.call('HSET', lkey, 'status', 'merged', 'merged_into', ARGV[2], "
    "'version', after.version, 'updated_at', ARGV[4])\n"
    "audit(ARGV[3], 'org.merge', 'org:' .. ARGV[1] .. '>' .. ARGV[2], "
    "loser, after, ARGV[4])\n"
    "return cjson.encode(hgetall(skey))\n";

/* ARGV: oid, source, actor, now */
static const char lua_source_add[] = LUA_PRELUDE
    "local okey = 'kt:org:{' .. ARGV[1] .. '}'\n"
    "local o = hgetall(okey)\n"
    "if not o then return fail('NOTFOUND', 'no organisation ' .. ARGV[1]) "
    "end\n"
    "if o.status == 'merged' then return merged(ARGV[1], o) end\n"
    "local ikey = 'kt:orgidx:source:{' .. ARGV[2] .. '}'\n"
    "local owner = redis.call('GET', ikey)\n"
    "if owner and owner ~= ARGV[1] then return fail('CONFLICT', 'source ' "
    ".. ARGV[2] .. ' belongs to organisation ' .. owner) end\n"
    "if not owner then\n"
    "  redis.call('SET', ikey, ARGV[1])\n"
    "  redis.call('SADD', okey .. ':sources', ARGV[2])\n"
    "  audit(ARGV[3], 'org.source.add', 'org:' .. ARGV[1] .. ':' .. "
    "ARGV[2], nil, nil, ARGV[4])\n"
    "end\n"
    "return cjson.encode({id = ARGV[1], source = ARGV[2]})\n";

/*
 * Person source links: a legacy login (Land + upstream subject, or a
 * legacy account id) that belongs to this person. ARGV: pid, source,
 * actor, now
 */
static const char lua_person_source_add[] = LUA_PRELUDE
    "local pkey = 'kt:person:{' .. ARGV[1] .. '}'\n"
    "if redis.call('EXISTS', pkey) == 0 then return fail('NOTFOUND', 'no "
    "person ' .. ARGV[1]) end\n"
    "local ikey = 'kt:personidx:source:{' .. ARGV[2] .. '}'\n"
    "local owner = redis.call('GET', ikey)\n"
    "if owner and owner ~= ARGV[1] then return fail('CONFLICT', 'source ' "
    ".. ARGV[2] .. ' belongs to person ' .. owner) end\n"
    "if not owner then\n"
    "  redis.call('SET', ikey, ARGV[1])\n"
    "  redis.call('SADD', pkey .. ':sources', ARGV[2])\n"
    "  audit(ARGV[3], 'person.source.add', 'person:' .. ARGV[1] .. ':' .. "
    "ARGV[2], nil, nil, ARGV[4])\n"
    "end\n"
    "return cjson.encode({id = ARGV[1], source = ARGV[2]})\n";

/* ARGV: source */
static const char lua_person_find_source[] =
    "local pid = redis.call('GET', 'kt:personidx:source:{' .. ARGV[1] .. "
    "'}')\n"
    "if not pid then return redis.error_reply('NOTFOUND no person with "
    "source ' .. ARGV[1]) end\n"
    "local a = redis.call('HGETALL', 'kt:person:{' .. pid .. '}')\n"
    "if #a == 0 then return redis.error_reply('NOTFOUND no person ' .. pid) "
    "end\n"
    "local t = {}\n"
    "for i = 1, #a, 2 do t[a[i]] = a[i + 1] end\n"
    "return cjson.encode(t)\n";

/* ARGV: oid */
static const char lua_org_sources[] = LUA_PRELUDE
    "local o, oid = resolve(ARGV[1])\n"
    "if not o then return fail('NOTFOUND', 'no organisation ' .. ARGV[1]) "
    "end\n"
    "local s = redis.call('SMEMBERS', 'kt:org:{' .. oid .. '}:sources')\n"
    "table.sort(s)\n"
    "if #s == 0 then return '{\"org\":' .. cjson.encode(oid) .. "
    "',\"sources\":[]}' end\n"
    "return cjson.encode({org = oid, sources = s})\n";

/*
 * Membership writes: the person's index first, the organisation's member
 * list (authoritative) second, in one script; readers verify the index
 * against the member list, so a stale index entry is never believed.
 * ARGV: oid, pid, role, actor, now, mode ("set", "add": must be new,
 * "change": must exist)
 */
static const char lua_member_set[] = LUA_PRELUDE
    "local okey = 'kt:org:{' .. ARGV[1] .. '}'\n"
    "local o = hgetall(okey)\n"
    "if not o then return fail('NOTFOUND', 'no organisation ' .. ARGV[1]) "
    "end\n"
    "if o.status == 'merged' then return merged(ARGV[1], o) end\n"
    "if redis.call('EXISTS', 'kt:person:{' .. ARGV[2] .. '}') == 0 then "
    "return fail('NOTFOUND', 'no person ' .. ARGV[2]) end\n"
    "local cur = redis.call('HGET', okey .. ':members', ARGV[2])\n"
    "local before = cur and cjson.decode(cur) or nil\n"
    "if before and ARGV[6] == 'add' then return fail('CONFLICT', 'person ' "
    ".. ARGV[2] .. ' is already a member of ' .. ARGV[1] .. ' (' .. "
    "before.role .. ')') end\n"
    "if not before and ARGV[6] == 'change' then return fail('NOTFOUND', "
    "'person ' .. ARGV[2] .. ' is not a member of ' .. ARGV[1]) end\n"
    "if before and before.role == 'admin' and ARGV[3] ~= 'admin' then\n"
    "  local admins = 0\n"
    "  local all = redis.call('HVALS', okey .. ':members')\n"
    "  for _, v in ipairs(all) do if cjson.decode(v).role == 'admin' then "
    "admins = admins + 1 end end\n"
    "  if admins <= 1 and o.status == 'active' then return fail('DENIED', "
    "'the last admin of an organisation cannot be demoted') end\n"
    "end\n"
    "local m = {role = ARGV[3], granted_by = ARGV[4], granted_at = "
    "ARGV[5]}\n"
    "redis.call('HSET', 'kt:person:{' .. ARGV[2] .. '}:orgs', ARGV[1], "
    "ARGV[3])\n"
    "redis.call('HSET', okey .. ':members', ARGV[2], cjson.encode(m))\n"
    "audit(ARGV[4], before and 'member.role' or 'member.add', 'org:' .. "
    "ARGV[1] .. ':person:' .. ARGV[2], before, m, ARGV[5])\n"
    "return cjson.encode(m)\n";

/* ARGV: oid, pid, actor, now */
static const char lua_member_remove[] = LUA_PRELUDE
    "local okey = 'kt:org:{' .. ARGV[1] .. '}'\n"
    "local o = hgetall(okey)\n"
    "local cur = redis.call('HGET', okey .. ':members', ARGV[2])\n"
    "if not o or not cur then return fail('NOTFOUND', 'person ' .. ARGV[2] "
    ".. ' is not a member of ' .. ARGV[1]) end\n"
    "local before = cjson.decode(cur)\n"
    "if before.role == 'admin' and o.status == 'active' then\n"
    "  local admins = 0\n"
    "  for _, v in ipairs(redis.call('HVALS', okey .. ':members')) do\n"
    "    if cjson.decode(v).role == 'admin' then admins = admins + 1 end\n"
    "  end\n"
    "  if admins <= 1 then return fail('DENIED', 'the last admin of an "
    "organisation cannot be removed') end\n"
    "end\n"
    "redis.call('HDEL', okey .. ':members', ARGV[2])\n"
    "redis.call('HDEL', 'kt:person:{' .. ARGV[2] .. '}:orgs', ARGV[1])\n"
    "audit(ARGV[3], 'member.remove', 'org:' .. ARGV[1] .. ':person:' .. "
    "ARGV[2], before, nil, ARGV[4])\n"
    "return cjson.encode({removed = ARGV[2]})\n";

/* ARGV: oid */
static const char lua_org_members[] = LUA_PRELUDE
    "local o, oid = resolve(ARGV[1])\n"
    "if not o then return fail('NOTFOUND', 'no organisation ' .. ARGV[1]) "
    "end\n"
    "local out = {}\n"
    "local all = redis.call('HGETALL', 'kt:org:{' .. oid .. '}:members')\n"
    "for i = 1, #all, 2 do\n"
    "  local m = cjson.decode(all[i + 1])\n"
    "  local p = redis.call('HMGET', 'kt:person:{' .. all[i] .. '}', "
    "'email', 'name', 'status')\n"
    "  out[#out + 1] = {person = all[i], role = m.role, granted_by = "
    "m.granted_by, granted_at = m.granted_at, email = p[1] or '', name = "
    "p[2] or '', status = p[3] or ''}\n"
    "end\n"
    "table.sort(out, function(a, b) return a.email < b.email end)\n"
    /* cjson encodes every empty table as {}: spell the empty list out */
    "if #out == 0 then return '{\"org\":' .. cjson.encode(oid) .. "
    "',\"members\":[]}' end\n"
    "return cjson.encode({org = oid, members = out})\n";

/* ARGV: pid */
static const char lua_person_orgs[] = LUA_PRELUDE
    "local idx = redis.call('HKEYS', 'kt:person:{' .. ARGV[1] .. '}:orgs')\n"
    "local out, seen = {}, {}\n"
    "for _, oid in ipairs(idx) do\n"
    "  local o, real = resolve(oid)\n"
    "  if o and not seen[real] then\n"
    "    local m = redis.call('HGET', 'kt:org:{' .. real .. '}:members', "
    "ARGV[1])\n"
    "    if m then\n"
    "      seen[real] = true\n"
    "      o.role = cjson.decode(m).role\n"
    "      out[#out + 1] = o\n"
    "    end\n"
    "  end\n"
    "end\n"
    "table.sort(out, function(a, b) return (a.legal_name or '') < "
    "(b.legal_name or '') end)\n"
    "if #out == 0 then return '{\"orgs\":[]}' end\n"
    "return cjson.encode({orgs = out})\n";

/* ARGV: pid, fields JSON, actor, action, now */
static const char lua_person_update[] = LUA_PRELUDE
    "local pkey = 'kt:person:{' .. ARGV[1] .. '}'\n"
    "local before = hgetall(pkey)\n"
    "if not before then return fail('NOTFOUND', 'no person ' .. ARGV[1]) "
    "end\n"
    "local f = cjson.decode(ARGV[2])\n"
    "for k, v in pairs(f) do\n"
    "  if k == 'id' or k == 'email' then return fail('INVALID', 'field ' "
    ".. k .. ' cannot be changed here') end\n"
    "  if v == '' then redis.call('HDEL', pkey, k) else "
    "redis.call('HSET', pkey, k, v) end\n"
    "end\n"
    "redis.call('HSET', pkey, 'updated_at', ARGV[5])\n"
    "local after = hgetall(pkey)\n"
    "audit(ARGV[3], ARGV[4], 'person:' .. ARGV[1], before, after, "
    "ARGV[5])\n"
    "after.pwhash = nil\n"
    "after.totp = nil\n"
    "after.recovery = nil\n"
    "return cjson.encode(after)\n";

/* KEYS: invite key; ARGV: oid, email, role, actor, ttl, now */
static const char lua_invite_create[] = LUA_PRELUDE
    "local o = hgetall('kt:org:{' .. ARGV[1] .. '}')\n"
    "if not o or o.status ~= 'active' then return fail('INVALID', "
    "'organisation ' .. ARGV[1] .. ' is not active') end\n"
    "local inv = {org = ARGV[1], email = ARGV[2], role = ARGV[3], by = "
    "ARGV[4], created = ARGV[6]}\n"
    "redis.call('SET', KEYS[1], cjson.encode(inv), 'EX', ARGV[5])\n"
    "audit(ARGV[4], 'invite.create', 'org:' .. ARGV[1] .. ':email:' .. "
    "ARGV[2], nil, inv, ARGV[6])\n"
    "return cjson.encode(inv)\n";

/* ARGV: pid */
static const char lua_person_sessions[] =
    "local skey = 'kt:person:{' .. ARGV[1] .. '}:sessions'\n"
    "local out = {}\n"
    "for _, sid in ipairs(redis.call('SMEMBERS', skey)) do\n"
    "  local a = redis.call('HGETALL', 'kt:session:{' .. sid .. '}')\n"
    "  if #a == 0 then redis.call('SREM', skey, sid) else\n"
    "    local t = {sid = sid}\n"
    "    for i = 1, #a, 2 do t[a[i]] = a[i + 1] end\n"
    "    out[#out + 1] = t\n"
    "  end\n"
    "end\n"
    "if #out == 0 then return '{\"sessions\":[]}' end\n"
    "table.sort(out, function(a, b) return (tonumber(a.created) or 0) > "
    "(tonumber(b.created) or 0) end)\n"
    "return cjson.encode({sessions = out})\n";

/* ARGV: sid, actor, now */
static const char lua_session_revoke[] = LUA_PRELUDE
    "local skey = 'kt:session:{' .. ARGV[1] .. '}'\n"
    "local s = hgetall(skey)\n"
    "if not s then return fail('NOTFOUND', 'no session ' .. ARGV[1]) end\n"
    "redis.call('DEL', skey)\n"
    "if s.person then\n"
    "  redis.call('SREM', 'kt:person:{' .. s.person .. '}:sessions', "
    "ARGV[1])\n"
    "end\n"
    "audit(ARGV[2], 'session.revoke', 'session:' .. ARGV[1], s, nil, "
    "ARGV[3])\n"
    "return cjson.encode({sid = ARGV[1], person = s.person or ''})\n";

/* ARGV: pid, actor, now. Only sessions that still name the person go:
 * the index is a hint, the session record decides. */
static const char lua_person_sessions_revoke[] = LUA_PRELUDE
    "local ikey = 'kt:person:{' .. ARGV[1] .. '}:sessions'\n"
    "local n = 0\n"
    "for _, sid in ipairs(redis.call('SMEMBERS', ikey)) do\n"
    "  local skey = 'kt:session:{' .. sid .. '}'\n"
    "  if redis.call('HGET', skey, 'person') == ARGV[1] then\n"
    "    redis.call('DEL', skey)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', ikey)\n"
    "if n > 0 then\n"
    "  audit(ARGV[2], 'session.revoke_all', 'person:' .. ARGV[1], nil, "
    "nil, ARGV[3])\n"
    "end\n"
    "return cjson.encode({person = ARGV[1], revoked = n})\n";

/* Completion --------------------------------------------------------------- */

int kt_account_lua_error(const char *msg)
{
	static const struct {
		const char *prefix;
		int code;
	} map[] = {{"NOTFOUND ", KT_ERR_NOTFOUND},
		   {"CONFLICT ", KT_ERR_CONFLICT},
		   {"INVALID ", KT_ERR_INVALID},
		   {"DENIED ", KT_ERR_DENIED}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(msg, map[i].prefix, strlen(map[i].prefix)) == 0)
			return map[i].code;
	return KT_ERR_REDIS;
}

static void on_json(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *res;
	json_error_t jerr;

	if (rep == NULL) {
		kt_store_op_finish(o, KT_ERR_UNAVAILABLE, NULL);
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		int code = kt_account_lua_error(rep->str);
		const char *sp = strchr(rep->str, ' ');
		if (code == KT_ERR_REDIS)
			kt_log_error("redis: %s", rep->str);
		res =
		    json_pack("{s:s}", "error",
			      code == KT_ERR_REDIS ? "storage error"
						   : (sp ? sp + 1 : rep->str));
		kt_store_op_finish(o, code, res);
		json_decref(res);
		return;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		kt_store_op_finish(o, KT_ERR_REDIS, NULL);
		return;
	}
	res = json_loadb(rep->str, rep->len, 0, &jerr);
	kt_store_op_finish(o, res ? KT_OK : KT_ERR_INTERNAL, res);
	json_decref(res);
}

/* EVAL script with keys and string args; completion parses JSON. */
static int eval(struct kt_redis *r, const char *script, int nkeys,
		const char *const *keys, int nargs, const char *const *args,
		kt_store_cb *cb, void *arg)
{
	const char *argv[KT_REDIS_MAX_ARGS];
	size_t lens[KT_REDIS_MAX_ARGS];
	char nk[16];
	int argc = 0, rc;
	struct kt_store_op *o;

	if (3 + nkeys + nargs > KT_REDIS_MAX_ARGS)
		return KT_ERR_LIMIT;
	for (int i = 0; i < nargs; i++)
		if (args[i] == NULL)
			return KT_ERR_INVALID;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[argc] = "EVAL";
	lens[argc++] = 4;
	argv[argc] = script;
	lens[argc++] = strlen(script);
	argv[argc] = nk;
	lens[argc++] = strlen(nk);
	for (int i = 0; i < nkeys; i++) {
		argv[argc] = keys[i];
		lens[argc++] = strlen(keys[i]);
	}
	for (int i = 0; i < nargs; i++) {
		argv[argc] = args[i];
		lens[argc++] = strlen(args[i]);
	}
	rc = kt_redis_cmd(r, on_json, o, argc, argv, lens);
	if (rc != KT_OK)
		free(o);
	return rc;
}

/* Identifiers end up inside keys and Lua patterns: keep them plain. */
static int id_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 128)
		return 0;
	for (; *s; s++)
		if (*s == '{' || *s == '}' || (unsigned char)*s < 0x20)
			return 0;
	return 1;
}

static void now_str(char out[24])
{
	snprintf(out, 24, "%lld", (long long)kt_now());
}

static char *dump(json_t *v)
{
	return json_dumps(v, JSON_COMPACT);
}

/* Public API ------------------------------------------------------------- */

int kt_account_role_ok(const char *s)
{
	return s != NULL && (strcmp(s, KT_ORG_ROLE_ADMIN) == 0 ||
			     strcmp(s, KT_ORG_ROLE_MEMBER) == 0 ||
			     strcmp(s, KT_ORG_ROLE_REPRESENTATIVE) == 0);
}

/* All values strings, all keys and values free of braces. */
static int fields_ok(json_t *fields)
{
	const char *k;
	json_t *v;

	if (!json_is_object(fields))
		return 0;
	json_object_foreach(fields, k, v)
	{
		if (!json_is_string(v) || strpbrk(k, "{}") != NULL ||
		    strpbrk(json_string_value(v), "{}") != NULL)
			return 0;
	}
	return 1;
}

int kt_account_org_create(struct kt_redis *r, json_t *fields, json_t *sources,
			  const char *actor, kt_store_cb *cb, void *arg)
{
	char idbuf[32], now[24];
	char *f = NULL, *s = NULL;
	json_t *copy, *src = sources ? json_incref(sources) : json_array();
	size_t i;
	json_t *v;
	int rc;

	if (!fields_ok(fields) || !json_is_array(src) || !id_ok(actor)) {
		json_decref(src);
		return KT_ERR_INVALID;
	}
	json_array_foreach(src, i, v) if (!json_is_string(v) ||
					  !id_ok(json_string_value(v)))
	{
		json_decref(src);
		return KT_ERR_INVALID;
	}
	if ((copy = json_deep_copy(fields)) == NULL) {
		json_decref(src);
		return KT_ERR_NOMEM;
	}
	if (json_object_get(copy, "id") == NULL) {
		if (kt_random_token(idbuf, sizeof(idbuf), 16) != KT_OK) {
			json_decref(copy);
			json_decref(src);
			return KT_ERR_CRYPTO;
		}
		json_object_set_new(copy, "id", json_string(idbuf));
	}
	if (!id_ok(json_string_value(json_object_get(copy, "id")))) {
		json_decref(copy);
		json_decref(src);
		return KT_ERR_INVALID;
	}
	now_str(now);
	f = dump(copy);
	s = dump(src);
	json_decref(copy);
	json_decref(src);
	if (f == NULL || s == NULL) {
		free(f);
		free(s);
		return KT_ERR_NOMEM;
	}
	{
		const char *args[] = {f, s, actor, now};
		rc = eval(r, lua_org_create, 0, NULL, 4, args, cb, arg);
	}
	free(f);
	free(s);
	return rc;
}

int kt_account_org_get(struct kt_redis *r, const char *oid, kt_store_cb *cb,
		       void *arg)
{
	const char *args[] = {oid};

	if (!id_ok(oid))
		return KT_ERR_INVALID;
	return eval(r, lua_org_get, 0, NULL, 1, args, cb, arg);
}

static int org_update(struct kt_redis *r, const char *oid,
		      int64_t expected_version, json_t *fields,
		      const char *actor, const char *action, kt_store_cb *cb,
		      void *arg)
{
	char ver[24], now[24];
	char *f;
	int rc;

	if (!id_ok(oid) || !id_ok(actor) || !fields_ok(fields) ||
	    expected_version < 0)
		return KT_ERR_INVALID;
	snprintf(ver, sizeof(ver), "%lld", (long long)expected_version);
	now_str(now);
	if ((f = dump(fields)) == NULL)
		return KT_ERR_NOMEM;
	{
		const char *args[] = {oid, ver, f, actor, now, action};
		rc = eval(r, lua_org_update, 0, NULL, 6, args, cb, arg);
	}
	free(f);
	return rc;
}

int kt_account_org_update(struct kt_redis *r, const char *oid,
			  int64_t expected_version, json_t *fields,
			  const char *actor, kt_store_cb *cb, void *arg)
{
	return org_update(r, oid, expected_version, fields, actor, "org.update",
			  cb, arg);
}

int kt_account_org_set_status(struct kt_redis *r, const char *oid,
			      const char *status, const char *actor,
			      kt_store_cb *cb, void *arg)
{
	const char *action;
	json_t *f;
	int rc;

	if (status != NULL && strcmp(status, "active") == 0)
		action = "org.activate";
	else if (status != NULL && strcmp(status, "suspended") == 0)
		action = "org.suspend";
	else
		return KT_ERR_INVALID;
	if ((f = json_pack("{s:s}", "status", status)) == NULL)
		return KT_ERR_NOMEM;
	rc = org_update(r, oid, 0, f, actor, action, cb, arg);
	json_decref(f);
	return rc;
}

int kt_account_org_sources(struct kt_redis *r, const char *oid, kt_store_cb *cb,
			   void *arg)
{
	const char *args[] = {oid};

	if (!id_ok(oid))
		return KT_ERR_INVALID;
	return eval(r, lua_org_sources, 0, NULL, 1, args, cb, arg);
}

int kt_account_org_find(struct kt_redis *r, const char *kind, const char *value,
			kt_store_cb *cb, void *arg)
{
	static const char *const kinds[] = {"vat", "hr",     "taxno",
					    "wid", "source", "id"};
	char key[KEY_MAX], prefix[64];
	const char *keys[1] = {key};
	const char *args[] = {kind, value};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kind != NULL && strcmp(kind, kinds[i]) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]) || !id_ok(value))
		return KT_ERR_INVALID;
	snprintf(prefix, sizeof(prefix), "kt:orgidx:%s:", kind);
	if (kt_store_key(key, prefix, value, NULL) != KT_OK)
		return KT_ERR_INVALID;
	return eval(r, lua_org_find, 1, keys, 2, args, cb, arg);
}

int kt_account_org_merge(struct kt_redis *r, const char *loser,
			 const char *survivor, const char *actor,
			 kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {loser, survivor, actor, now};

	if (!id_ok(loser) || !id_ok(survivor) || !id_ok(actor))
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_org_merge, 0, NULL, 4, args, cb, arg);
}

int kt_account_source_add(struct kt_redis *r, const char *oid,
			  const char *source, const char *actor,
			  kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {oid, source, actor, now};

	if (!id_ok(oid) || !id_ok(source) || !id_ok(actor) ||
	    strchr(source, ':') == NULL)
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_source_add, 0, NULL, 4, args, cb, arg);
}

int kt_account_person_source_add(struct kt_redis *r, const char *person,
				 const char *source, const char *actor,
				 kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {person, source, actor, now};

	if (!id_ok(person) || !id_ok(source) || !id_ok(actor) ||
	    strchr(source, ':') == NULL)
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_person_source_add, 0, NULL, 4, args, cb, arg);
}

int kt_account_person_find_source(struct kt_redis *r, const char *source,
				  kt_store_cb *cb, void *arg)
{
	const char *args[] = {source};

	if (!id_ok(source) || strchr(source, ':') == NULL)
		return KT_ERR_INVALID;
	return eval(r, lua_person_find_source, 0, NULL, 1, args, cb, arg);
}

static int member_set(struct kt_redis *r, const char *oid, const char *person,
		      const char *role, const char *actor, const char *mode,
		      kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {oid, person, role, actor, now, mode};

	if (!id_ok(oid) || !id_ok(person) || !id_ok(actor) ||
	    !kt_account_role_ok(role))
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_member_set, 0, NULL, 6, args, cb, arg);
}

int kt_account_member_set(struct kt_redis *r, const char *oid,
			  const char *person, const char *role,
			  const char *actor, kt_store_cb *cb, void *arg)
{
	return member_set(r, oid, person, role, actor, "set", cb, arg);
}

int kt_account_member_add(struct kt_redis *r, const char *oid,
			  const char *person, const char *role,
			  const char *actor, kt_store_cb *cb, void *arg)
{
	return member_set(r, oid, person, role, actor, "add", cb, arg);
}

int kt_account_member_change(struct kt_redis *r, const char *oid,
			     const char *person, const char *role,
			     const char *actor, kt_store_cb *cb, void *arg)
{
	return member_set(r, oid, person, role, actor, "change", cb, arg);
}

int kt_account_member_remove(struct kt_redis *r, const char *oid,
			     const char *person, const char *actor,
			     kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {oid, person, actor, now};

	if (!id_ok(oid) || !id_ok(person) || !id_ok(actor))
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_member_remove, 0, NULL, 4, args, cb, arg);
}

int kt_account_org_members(struct kt_redis *r, const char *oid, kt_store_cb *cb,
			   void *arg)
{
	const char *args[] = {oid};

	if (!id_ok(oid))
		return KT_ERR_INVALID;
	return eval(r, lua_org_members, 0, NULL, 1, args, cb, arg);
}

int kt_account_person_orgs(struct kt_redis *r, const char *person,
			   kt_store_cb *cb, void *arg)
{
	const char *args[] = {person};

	if (!id_ok(person))
		return KT_ERR_INVALID;
	return eval(r, lua_person_orgs, 0, NULL, 1, args, cb, arg);
}

static void on_last_org(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *res;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		return;
	}
	res = json_pack("{s:s}", "org", rep->str);
	kt_store_op_finish(o, res ? KT_OK : KT_ERR_NOMEM, res);
	json_decref(res);
}

int kt_account_last_org_get(struct kt_redis *r, const char *person,
			    const char *client_id, kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o;
	int rc;

	if (!id_ok(person) || client_id == NULL)
		return KT_ERR_INVALID;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:person:", person, ":lastorg")) !=
		KT_OK ||
	    (rc = kt_redis_cmdv(r, on_last_org, o, "HGET", o->key, client_id,
				NULL)) != KT_OK)
		free(o);
	return rc;
}

int kt_account_last_org_set(struct kt_redis *r, const char *person,
			    const char *client_id, const char *oid)
{
	char key[KEY_MAX];

	if (!id_ok(person) || client_id == NULL || !id_ok(oid) ||
	    kt_store_key(key, "kt:person:", person, ":lastorg") != KT_OK)
		return KT_ERR_INVALID;
	return kt_redis_cmdv(r, NULL, NULL, "HSET", key, client_id, oid, NULL);
}

int kt_account_person_update(struct kt_redis *r, const char *person,
			     json_t *fields, const char *actor,
			     const char *action, kt_store_cb *cb, void *arg)
{
	char now[24];
	char *f;
	int rc;

	if (!id_ok(person) || !id_ok(actor) || !id_ok(action) ||
	    !fields_ok(fields))
		return KT_ERR_INVALID;
	now_str(now);
	if ((f = dump(fields)) == NULL)
		return KT_ERR_NOMEM;
	{
		const char *args[] = {person, f, actor, action, now};
		rc = eval(r, lua_person_update, 0, NULL, 5, args, cb, arg);
	}
	free(f);
	return rc;
}

int kt_account_invite_create(struct kt_redis *r, const char *token_hash,
			     const char *oid, const char *email,
			     const char *role, const char *actor, int64_t ttl,
			     kt_store_cb *cb, void *arg)
{
	char key[KEY_MAX], ttls[24], now[24];
	const char *keys[] = {key};
	const char *args[] = {oid, email, role, actor, ttls, now};

	if (!id_ok(oid) || !id_ok(email) || !id_ok(actor) ||
	    !kt_account_role_ok(role) || ttl <= 0 ||
	    kt_store_key(key, "kt:invite:", token_hash, NULL) != KT_OK)
		return KT_ERR_INVALID;
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	now_str(now);
	return eval(r, lua_invite_create, 1, keys, 6, args, cb, arg);
}

int kt_account_invite_take(struct kt_redis *r, const char *token_hash,
			   kt_store_cb *cb, void *arg)
{
	return kt_store_doc_get(r, "invite", token_hash, 1, cb, arg);
}

static json_t *stream_entry(const redisReply *e)
{
	json_t *obj;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	if ((obj = kt_store_pairs_to_object(e->element[1])) == NULL)
		return NULL;
	json_object_set_new(obj, "id", json_string(e->element[0]->str));
	return obj;
}

static void on_audit(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *list, *res;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || (list = json_array()) == NULL) {
		kt_store_op_finish(o, KT_ERR_REDIS, NULL);
		return;
	}
	for (size_t i = 0; i < rep->elements; i++) {
		json_t *e = stream_entry(rep->element[i]);
		if (e != NULL)
			json_array_append_new(list, e);
	}
	res = json_pack("{s:o}", "entries", list);
	kt_store_op_finish(o, res ? KT_OK : KT_ERR_NOMEM, res);
	json_decref(res);
}

/* A stream entry id: "<ms>" or "<ms>-<seq>", decimal. */
static int stream_id_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strspn(s, "0123456789");
	if (n == 0 || n > 20)
		return 0;
	if (s[n] == '\0')
		return 1;
	if (s[n] != '-')
		return 0;
	s += n + 1;
	n = strspn(s, "0123456789");
	return n > 0 && n <= 20 && s[n] == '\0';
}

static int audit_range(struct kt_redis *r, const char *cmd, const char *from,
		       const char *to, unsigned count, kt_store_cb *cb,
		       void *arg)
{
	struct kt_store_op *o;
	char n[16];
	int rc;

	if (count == 0 || count > 4000)
		return KT_ERR_LIMIT;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	snprintf(n, sizeof(n), "%u", count);
	rc = kt_redis_cmdv(r, on_audit, o, cmd, AUDIT_KEY, from, to, "COUNT", n,
			   NULL);
	if (rc != KT_OK)
		free(o);
	return rc;
}

int kt_account_audit_page(struct kt_redis *r, const char *before,
			  unsigned count, kt_store_cb *cb, void *arg)
{
	char from[48];

	if (!stream_id_ok(before))
		return KT_ERR_INVALID;
	snprintf(from, sizeof(from), "(%s", before);
	return audit_range(r, "XREVRANGE", from, "-", count, cb, arg);
}

int kt_account_audit_since(struct kt_redis *r, const char *after,
			   unsigned count, kt_store_cb *cb, void *arg)
{
	char from[48];

	if (!stream_id_ok(after))
		return KT_ERR_INVALID;
	snprintf(from, sizeof(from), "(%s", after);
	return audit_range(r, "XRANGE", from, "+", count, cb, arg);
}

int kt_account_audit_tail(struct kt_redis *r, unsigned count, kt_store_cb *cb,
			  void *arg)
{
	return audit_range(r, "XREVRANGE", "+", "-", count, cb, arg);
}

static void on_added(const redisReply *rep, void *arg)
{
	kt_store_op_finish(arg, kt_store_reply_rc(rep), NULL);
}

int kt_account_audit_add(struct kt_redis *r, const char *actor,
			 const char *action, const char *object,
			 kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o;
	char now[24];
	int rc;

	if (!id_ok(actor) || !id_ok(action) || !id_ok(object))
		return KT_ERR_INVALID;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	now_str(now);
	rc = kt_redis_cmdv(r, on_added, o, "XADD", AUDIT_KEY, "MAXLEN", "~",
			   AUDIT_MAXLEN, "*", "time", now, "actor", actor,
			   "action", action, "object", object, "before", "",
			   "after", "", NULL);
	if (rc != KT_OK)
		free(o);
	return rc;
}

int kt_account_person_sessions(struct kt_redis *r, const char *person,
			       kt_store_cb *cb, void *arg)
{
	const char *args[] = {person};

	if (!id_ok(person))
		return KT_ERR_INVALID;
	return eval(r, lua_person_sessions, 0, NULL, 1, args, cb, arg);
}

int kt_account_session_revoke(struct kt_redis *r, const char *sid,
			      const char *actor, kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {sid, actor, now};

	if (!id_ok(sid) || !id_ok(actor))
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_session_revoke, 0, NULL, 3, args, cb, arg);
}

int kt_account_person_sessions_revoke(struct kt_redis *r, const char *person,
				      const char *actor, kt_store_cb *cb,
				      void *arg)
{
	char now[24];
	const char *args[] = {person, actor, now};

	if (!id_ok(person) || !id_ok(actor))
		return KT_ERR_INVALID;
	now_str(now);
	return eval(r, lua_person_sessions_revoke, 0, NULL, 3, args, cb, arg);
}
