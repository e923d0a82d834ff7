/*
 * Migration jobs: one Lua script per unit, so that an organisation, its
 * source links, the people it brings and their memberships, the journal
 * entry that can undo them and the unit's "done" mark change together or
 * not at all. The scripts build on the account model's prelude
 * (account_int.h): same identifier indexes, same merge resolution, same
 * audit stream. They are sent with EVALSHA (a unit script is several KiB
 * and a million units are sent) and fall back to EVAL once when Redis does
 * not know the script (NOSCRIPT after a restart).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/migjob.h"
#include "kontor/util.h"

#include "account_int.h"
#include "store_int.h"

#define MIG_PRELUDE                                                            \
	LUA_PRELUDE                                                            \
	"local RANK = {representative = 1, member = 2, admin = 3}\n"           \
	"local function strip(o)\n"                                            \
	"  if o == nil then return nil end\n"                                  \
	"  local t = {}\n"                                                     \
	"  for k, v in pairs(o) do\n"                                          \
	"    if k ~= 'version' and k ~= 'updated_at' and k ~= "                \
	"'resolved_from' then t[k] = v end\n"                                  \
	"  end\n"                                                              \
	"  return t\n"                                                         \
	"end\n"                                                                \
	"local function hset_all(key, t)\n"                                    \
	"  local flat = {}\n"                                                  \
	"  for k, v in pairs(t) do flat[#flat + 1] = k; flat[#flat + 1] = v "  \
	"end\n"                                                                \
	"  if #flat > 0 then redis.call('HSET', key, unpack(flat)) end\n"      \
	"end\n"                                                                \
	"local function reindex(oid, before, after)\n"                         \
	"  local old, new = {}, {}\n"                                          \
	"  for _, k in ipairs(idx_keys(before)) do old[k] = true end\n"        \
	"  for _, k in ipairs(idx_keys(after)) do new[k] = true end\n"         \
	"  for k in pairs(old) do\n"                                           \
	"    if not new[k] and redis.call('GET', k) == oid then "              \
	"redis.call('DEL', k) end\n"                                           \
	"  end\n"                                                              \
	"  for k in pairs(new) do\n"                                           \
	"    if not redis.call('GET', k) then redis.call('SET', k, oid) end\n" \
	"  end\n"                                                              \
	"end\n"

/*
 * One unit. ARGV: job, unit JSON, (unused), now, dry ("1"/"0"), ids JSON
 * {"org": new org id, "people": [new person ids, one per person]}.
 */
static const char lua_apply[] = MIG_PRELUDE
    "local job, now, dry = ARGV[1], ARGV[4], ARGV[5] == '1'\n"
    "local actor = 'migrate:' .. job\n"
    "local u = cjson.decode(ARGV[2])\n"
    "local ids = cjson.decode(ARGV[6])\n"
    "local J = 'kt:migjob:{' .. job .. '}'\n"
    "local ukey = u.unit\n"
    "local res = {status = 'applied', unit = ukey, org = 'unchanged',\n"
    "  sources_added = 0, people_created = 0, people_existing = 0,\n"
    "  members_added = 0, members_upgraded = 0, members_same = 0,\n"
    "  person_links = 0, skipped = {}, notes = {}, created = {}}\n"
    "local function count(f, n)\n"
    "  if not dry and n ~= 0 then redis.call('HINCRBY', J, f, n) end\n"
    "end\n"
    "if not dry then\n"
    "  local st = redis.call('HGET', J .. ':done', ukey)\n"
    "  if st then res.status = 'done'; res.was = st; return "
    "cjson.encode(res) end\n"
    "end\n"
    /* the organisation: by its source links, else by its identifiers */
    "local owners, nown = {}, 0\n"
    "local function own(oid)\n"
    "  local o, real = resolve(oid)\n"
    "  if o and not owners[real] then owners[real] = o; nown = nown + 1 "
    "end\n"
    "end\n"
    "for _, s in ipairs(u.sources) do\n"
    "  local o = redis.call('GET', 'kt:orgidx:source:{' .. s .. '}')\n"
    "  if o then own(o) end\n"
    "end\n"
    "if nown == 0 then\n"
    "  for _, k in ipairs(idx_keys(u.org)) do\n"
    "    local o = redis.call('GET', k)\n"
    "    if o then own(o) end\n"
    "  end\n"
    "end\n"
    "if nown > 1 then\n"
    "  local l = {}\n"
    "  for oid in pairs(owners) do l[#l + 1] = oid end\n"
    "  table.sort(l)\n"
    "  res.status, res.org = 'blocked', 'blocked'\n"
    "  res.reason = 'its records belong to ' .. nown .. ' organisations ('"
    " .. table.concat(l, ', ') .. '): merge them first (kontor-admin org "
    "merge), then apply again'\n"
    "  if not dry then redis.call('HSET', J .. ':done', ukey, 'blocked') "
    "end\n"
    "  count('units_blocked', 1)\n"
    "  return cjson.encode(res)\n"
    "end\n"
    "local entry = {unit = ukey, n = u.n, members = {}, persons = {},\n"
    "  sources_added = {}, person_sources = {}}\n"
    "local oid, before, okey\n"
    "if nown == 1 then\n"
    "  oid, before = next(owners)\n"
    "  okey = 'kt:org:{' .. oid .. '}'\n"
    "  before.resolved_from = nil\n"
    "  local after = {}\n"
    "  for k, v in pairs(before) do after[k] = v end\n"
    /* Fill, never overwrite: a group of fields is taken when the stored
     * organisation has none of it, or when a valid identifier can replace
     * an invalid one; what an admin or the gateway wrote stays. */
    "  local G = {{'legal_form'}, {'vat', 'vat_valid'},\n"
    "    {'taxno', 'taxno_valid'}, {'wid', 'wid_valid'},\n"
    "    {'hr_raw', 'hr_court', 'hr_court_name', 'hr_type', 'hr_number',\n"
    "     'hr_valid'},\n"
    "    {'street', 'house_number', 'postcode', 'city', 'country'}}\n"
    "  local FLAG = {vat = 'vat_valid', taxno = 'taxno_valid',\n"
    "    wid = 'wid_valid', hr_raw = 'hr_valid'}\n"
    "  for _, g in ipairs(G) do\n"
    "    local flag, empty, has = FLAG[g[1]], true, false\n"
    "    for _, k in ipairs(g) do\n"
    "      if before[k] and before[k] ~= '' then empty = false end\n"
    "      if u.org[k] and u.org[k] ~= '' then has = true end\n"
    "    end\n"
    "    if has and (empty or (flag and u.org[flag] == '1' and "
    "before[flag] ~= '1')) then\n"
    "      local trial = {}\n"
    "      for k, v in pairs(after) do trial[k] = v end\n"
    "      for _, k in ipairs(g) do trial[k] = u.org[k] end\n"
    "      local ok = true\n"
    "      for _, k in ipairs(idx_keys(trial)) do\n"
    "        local o = redis.call('GET', k)\n"
    "        if o and o ~= oid then\n"
    "          ok = false\n"
    "          res.notes[#res.notes + 1] = 'identifier ' .. "
    "k:match('{(.*)}') .. ' belongs to organisation ' .. o .. ': not "
    "taken'\n"
    "        end\n"
    "      end\n"
    "      if ok then after = trial end\n"
    "    end\n"
    "  end\n"
    "  local changed = {}\n"
    "  for k, v in pairs(after) do if before[k] ~= v then changed[k] = true "
    "end end\n"
    "  for k in pairs(before) do if after[k] == nil then changed[k] = true "
    "end end\n"
    "  if next(changed) then\n"
    "    res.org = 'update'\n"
    "    entry.org_before = {}\n"
    "    for k in pairs(changed) do entry.org_before[k] = before[k] or '' "
    "end\n"
    "    if not dry then\n"
    "      reindex(oid, before, after)\n"
    "      after.version = tostring(tonumber(before.version or '0') + 1)\n"
    "      after.updated_at = now\n"
    "      redis.call('DEL', okey)\n"
    "      hset_all(okey, after)\n"
    "    end\n"
    "  end\n"
    "  for _, s in ipairs(u.sources) do\n"
    "    local ik = 'kt:orgidx:source:{' .. s .. '}'\n"
    "    if not redis.call('GET', ik) then\n"
    "      entry.sources_added[#entry.sources_added + 1] = s\n"
    "      if not dry then\n"
    "        redis.call('SET', ik, oid)\n"
    "        redis.call('SADD', okey .. ':sources', s)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if res.org == 'unchanged' and #entry.sources_added > 0 then res.org "
    "= 'update' end\n"
    "else\n"
    "  oid = ids.org\n"
    "  okey = 'kt:org:{' .. oid .. '}'\n"
    "  if redis.call('EXISTS', okey) == 1 then return fail('CONFLICT', "
    "'organisation ' .. oid .. ' exists') end\n"
    "  local f = {}\n"
    "  for k, v in pairs(u.org) do if v ~= '' then f[k] = v end end\n"
    "  f.id, f.status, f.version = oid, 'active', '1'\n"
    "  f.created_at, f.updated_at = now, now\n"
    "  res.org = 'create'\n"
    "  entry.org_created = true\n"
    "  for _, s in ipairs(u.sources) do\n"
    "    entry.sources_added[#entry.sources_added + 1] = s\n"
    "  end\n"
    "  if not dry then\n"
    "    hset_all(okey, f)\n"
    "    for _, k in ipairs(idx_keys(f)) do redis.call('SET', k, oid) end\n"
    "    for _, s in ipairs(u.sources) do\n"
    "      redis.call('SET', 'kt:orgidx:source:{' .. s .. '}', oid)\n"
    "      redis.call('SADD', okey .. ':sources', s)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "res.org_id = oid\n"
    "res.sources_added = #entry.sources_added\n"
    "entry.org = oid\n"
    /* people: found by e-mail or created; a membership only where both
     * sides proved the address */
    "for i, p in ipairs(u.people) do\n"
    "  local ekey = 'kt:email:{' .. p.email .. '}'\n"
    "  local pid = redis.call('GET', ekey)\n"
    "  local ok = true\n"
    "  if not pid then\n"
    "    pid = ids.people[i]\n"
    "    local pkey = 'kt:person:{' .. pid .. '}'\n"
    "    if redis.call('EXISTS', pkey) == 1 then return fail('CONFLICT', "
    "'person ' .. pid .. ' exists') end\n"
    "    local rec = {id = pid, email = p.email, email_verified =\n"
    "      p.email_verified, status = 'active', created_at = now,\n"
    "      updated_at = now}\n"
    "    if p.name and p.name ~= '' then rec.name = p.name end\n"
    "    if p.pwhash and p.pwhash ~= '' then rec.pwhash = p.pwhash end\n"
    "    if type(p.legacy) == 'table' then\n"
    "      for src, h in pairs(p.legacy) do rec['legacy_pwhash:' .. src] = "
    "h end\n"
    "    end\n"
    "    res.people_created = res.people_created + 1\n"
    /* a dry run writes nothing, so a person shared by several units
     * looks new in each: the caller counts addresses */
    "    if dry then res.created[#res.created + 1] = p.email end\n"
    "    if not dry then\n"
    "      redis.call('SET', ekey, pid)\n"
    "      hset_all(pkey, rec)\n"
    "      entry.persons[#entry.persons + 1] = {id = pid, email = p.email,\n"
    "        digest = digest(rec)}\n"
    "    end\n"
    "  else\n"
    "    local pv = redis.call('HGET', 'kt:person:{' .. pid .. '}', "
    "'email_verified')\n"
    "    local cur = redis.call('HGET', okey .. ':members', pid)\n"
    "    if cur and (RANK[cjson.decode(cur).role] or 0) >= (RANK[p.role] "
    "or 0) then\n"
    /* already a member, e.g. from an earlier run: nothing to grant */
    "      res.people_existing = res.people_existing + 1\n"
    "    elseif p.email_verified ~= '1' then\n"
    "      ok = false\n"
    "      res.skipped[#res.skipped + 1] = {email = p.email, reason =\n"
    "        'an account with this address exists and the export did not "
    "verify the address'}\n"
    "    elseif pv ~= '1' then\n"
    "      ok = false\n"
    "      res.skipped[#res.skipped + 1] = {email = p.email, reason =\n"
    "        'the existing account with this address has not verified it'}\n"
    "    else\n"
    "      res.people_existing = res.people_existing + 1\n"
    "    end\n"
    "  end\n"
    /* the person's legacy logins (LAND:account): a federated login with
     * one of them lands here; never onto an account that did not prove
     * the address (ok is false then) */
    "  if ok and type(p.sources) == 'table' then\n"
    "    for _, s in ipairs(p.sources) do\n"
    "      local ik = 'kt:personidx:source:{' .. s .. '}'\n"
    "      local owner = redis.call('GET', ik)\n"
    "      if not owner then\n"
    "        res.person_links = res.person_links + 1\n"
    "        if not dry then\n"
    "          redis.call('SET', ik, pid)\n"
    "          redis.call('SADD', 'kt:person:{' .. pid .. '}:sources', s)\n"
    "          entry.person_sources[#entry.person_sources + 1] =\n"
    "            {person = pid, source = s}\n"
    "        end\n"
    "      elseif owner ~= pid then\n"
    "        res.notes[#res.notes + 1] = 'legacy login ' .. s .. ' "
    "already belongs to person ' .. owner\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if ok then\n"
    "    local cur = redis.call('HGET', okey .. ':members', pid)\n"
    "    local c = cur and cjson.decode(cur) or nil\n"
    "    if c and (RANK[c.role] or 0) >= (RANK[p.role] or 0) then\n"
    "      res.members_same = res.members_same + 1\n"
    "    else\n"
    "      local mj = cjson.encode({role = p.role, granted_by = actor,\n"
    "        granted_at = now})\n"
    "      if c then res.members_upgraded = res.members_upgraded + 1\n"
    "      else res.members_added = res.members_added + 1 end\n"
    "      if not dry then\n"
    "        redis.call('HSET', 'kt:person:{' .. pid .. '}:orgs', oid, "
    "p.role)\n"
    "        redis.call('HSET', okey .. ':members', pid, mj)\n"
    "        entry.members[#entry.members + 1] = {person = pid, json = mj,\n"
    "          before = cur or ''}\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if res.org == 'unchanged' and res.people_created + res.members_added +\n"
    "   res.members_upgraded + res.person_links == 0 then\n"
    "  res.status = 'unchanged'\n"
    "end\n"
    "if dry then return cjson.encode(res) end\n"
    "res.created = nil\n"
    "if res.status == 'applied' then\n"
    "  local stored = hgetall(okey)\n"
    "  entry.org_digest = digest(strip(stored))\n"
    "  local id = redis.call('XADD', J .. ':journal', '*', 'unit', ukey, "
    "'entry', cjson.encode(entry))\n"
    "  redis.call('HSET', J .. ':done', ukey, id)\n"
    "  audit(actor, 'migrate.apply', 'org:' .. oid, before, stored, now)\n"
    "else\n"
    "  redis.call('HSET', J .. ':done', ukey, 'unchanged')\n"
    "end\n"
    "count('units_' .. res.status, 1)\n"
    "count('orgs_created', res.org == 'create' and 1 or 0)\n"
    "count('orgs_updated', res.org == 'update' and 1 or 0)\n"
    "count('sources_added', res.sources_added)\n"
    "count('people_created', res.people_created)\n"
    "count('people_existing', res.people_existing)\n"
    "count('members_added', res.members_added)\n"
    "count('members_upgraded', res.members_upgraded)\n"
    "count('contacts_skipped', #res.skipped)\n"
    "count('person_links', res.person_links)\n"
    "return cjson.encode(res)\n";

/*
 * Undo one journal entry. ARGV: job, entry id, entry JSON, now, mode
 * ("check" | "undo"), touched later ("1"/"0").
 */
static const char lua_undo[] = MIG_PRELUDE
    "local job, id, now, mode = ARGV[1], ARGV[2], ARGV[4], ARGV[5]\n"
    "local later = ARGV[6] == '1' and mode == 'check'\n"
    "local actor = 'migrate:' .. job\n"
    "local J = 'kt:migjob:{' .. job .. '}'\n"
    "local e = cjson.decode(ARGV[3])\n"
    "local res = {status = 'ok', unit = e.unit, problems = {}}\n"
    "local function problem(m) res.problems[#res.problems + 1] = m end\n"
    "if redis.call('HGET', J .. ':done', e.unit) ~= id then\n"
    "  res.status = 'gone'\n"
    "  return cjson.encode(res)\n"
    "end\n"
    "local oid = e.org\n"
    "local okey = 'kt:org:{' .. oid .. '}'\n"
    "local org = hgetall(okey)\n"
    "local mine = {}\n"
    "for _, m in ipairs(e.members) do mine[m.person] = m end\n"
    "if not org then\n"
    "  problem('organisation ' .. oid .. ' no longer exists')\n"
    "elseif org.status == 'merged' then\n"
    "  problem('organisation ' .. oid .. ' was merged into ' .. "
    "(org.merged_into or '?') .. ' since the job')\n"
    "elseif not later then\n"
    "  if digest(strip(org)) ~= e.org_digest then\n"
    "    problem('organisation ' .. oid .. ' was changed since the job "
    "(now version ' .. (org.version or '?') .. ')')\n"
    "  end\n"
    "  for _, m in ipairs(e.members) do\n"
    "    if redis.call('HGET', okey .. ':members', m.person) ~= m.json "
    "then\n"
    "      problem('the membership of person ' .. m.person .. ' in ' .. "
    "oid .. ' was changed since the job')\n"
    "    end\n"
    "  end\n"
    "  for _, s in ipairs(e.sources_added) do\n"
    "    if redis.call('GET', 'kt:orgidx:source:{' .. s .. '}') ~= oid "
    "then\n"
    "      problem('source link ' .. s .. ' was moved since the job')\n"
    "    end\n"
    "  end\n"
    "  for _, l in ipairs(e.person_sources or {}) do\n"
    "    if redis.call('GET', 'kt:personidx:source:{' .. l.source .. "
    "'}') ~= l.person then\n"
    "      problem('legacy login ' .. l.source .. ' was moved since the "
    "job')\n"
    "    end\n"
    "  end\n"
    "  if e.org_created then\n"
    "    local all = redis.call('HKEYS', okey .. ':members')\n"
    "    for _, p in ipairs(all) do\n"
    "      if not mine[p] then problem('organisation ' .. oid .. ' has a "
    "member the job did not add (' .. p .. ')') end\n"
    "    end\n"
    "    local added = {}\n"
    "    for _, s in ipairs(e.sources_added) do added[s] = true end\n"
    "    for _, s in ipairs(redis.call('SMEMBERS', okey .. ':sources')) "
    "do\n"
    "      if not added[s] then problem('organisation ' .. oid .. ' has a "
    "source link the job did not add (' .. s .. ')') end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for _, p in ipairs(e.persons) do\n"
    "  local pkey = 'kt:person:{' .. p.id .. '}'\n"
    "  local rec = hgetall(pkey)\n"
    "  if not rec then\n"
    "    problem('person ' .. p.email .. ' no longer exists')\n"
    "  else\n"
    "    if digest(rec) ~= p.digest then\n"
    "      problem('person ' .. p.email .. ' was changed since the job (a "
    "sign-in that upgraded the password hash, or an edit)')\n"
    "    end\n"
    "    if redis.call('SCARD', pkey .. ':sessions') > 0 then\n"
    "      problem('person ' .. p.email .. ' has signed in since the "
    "job')\n"
    "    end\n"
    "    for _, o in ipairs(redis.call('HKEYS', pkey .. ':orgs')) do\n"
    "      local mj = redis.call('HGET', 'kt:org:{' .. o .. '}:members', "
    "p.id)\n"
    "      if mj and not (o == oid and mine[p.id]) and not (mode == "
    "'check' and cjson.decode(mj).granted_by == actor) then\n"
    "        problem('person ' .. p.email .. ' is also a member of "
    "organisation ' .. o)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if #res.problems > 0 then res.status = 'refused'; return "
    "cjson.encode(res) end\n"
    "if mode == 'check' then return cjson.encode(res) end\n"
    "local before = org\n"
    "for _, m in ipairs(e.members) do\n"
    "  if m.before == '' then\n"
    "    redis.call('HDEL', okey .. ':members', m.person)\n"
    "    redis.call('HDEL', 'kt:person:{' .. m.person .. '}:orgs', oid)\n"
    "  else\n"
    "    redis.call('HSET', okey .. ':members', m.person, m.before)\n"
    "    redis.call('HSET', 'kt:person:{' .. m.person .. '}:orgs', oid, "
    "cjson.decode(m.before).role)\n"
    "  end\n"
    "end\n"
    "if e.org_created then\n"
    "  for _, k in ipairs(idx_keys(org)) do\n"
    "    if redis.call('GET', k) == oid then redis.call('DEL', k) end\n"
    "  end\n"
    "  for _, s in ipairs(redis.call('SMEMBERS', okey .. ':sources')) do\n"
    "    local ik = 'kt:orgidx:source:{' .. s .. '}'\n"
    "    if redis.call('GET', ik) == oid then redis.call('DEL', ik) end\n"
    "  end\n"
    "  redis.call('DEL', okey, okey .. ':members', okey .. ':sources')\n"
    "  org = nil\n"
    "else\n"
    "  for _, s in ipairs(e.sources_added) do\n"
    "    redis.call('DEL', 'kt:orgidx:source:{' .. s .. '}')\n"
    "    redis.call('SREM', okey .. ':sources', s)\n"
    "  end\n"
    "  if e.org_before then\n"
    "    local after = {}\n"
    "    for k, v in pairs(org) do after[k] = v end\n"
    "    for k, v in pairs(e.org_before) do\n"
    "      if v == '' then after[k] = nil else after[k] = v end\n"
    "    end\n"
    "    reindex(oid, org, after)\n"
    "    after.version = tostring(tonumber(org.version or '0') + 1)\n"
    "    after.updated_at = now\n"
    "    redis.call('DEL', okey)\n"
    "    hset_all(okey, after)\n"
    "    org = after\n"
    "  end\n"
    "end\n"
    "for _, l in ipairs(e.person_sources or {}) do\n"
    "  local ik = 'kt:personidx:source:{' .. l.source .. '}'\n"
    "  if redis.call('GET', ik) == l.person then redis.call('DEL', ik) "
    "end\n"
    "  redis.call('SREM', 'kt:person:{' .. l.person .. '}:sources', "
    "l.source)\n"
    "end\n"
    "for _, p in ipairs(e.persons) do\n"
    "  local pkey = 'kt:person:{' .. p.id .. '}'\n"
    "  local ekey = 'kt:email:{' .. p.email .. '}'\n"
    "  if redis.call('GET', ekey) == p.id then redis.call('DEL', ekey) "
    "end\n"
    "  redis.call('DEL', pkey, pkey .. ':orgs', pkey .. ':lastorg', pkey .. "
    "':sessions', pkey .. ':sources')\n"
    "end\n"
    "redis.call('HDEL', J .. ':done', e.unit)\n"
    "redis.call('HINCRBY', J, 'units_rolled_back', 1)\n"
    "audit(actor, 'migrate.rollback', 'org:' .. oid, before, org, now)\n"
    "res.status = 'undone'\n"
    "return cjson.encode(res)\n";

/* ARGV: job, digest, units, plan, now */
static const char lua_begin[] = LUA_PRELUDE
    "local J = 'kt:migjob:{' .. ARGV[1] .. '}'\n"
    "local cur = hgetall(J)\n"
    "if cur and cur.digest ~= ARGV[2] then return fail('CONFLICT', 'job ' "
    ".. ARGV[1] .. ' exists with another plan') end\n"
    "local cp = tonumber(cur and cur.checkpoint or '0')\n"
    "if not cur then\n"
    "  redis.call('HSET', J, 'job', ARGV[1], 'digest', ARGV[2], 'units', "
    "ARGV[3], 'plan', ARGV[4], 'status', 'running', 'created_at', ARGV[5], "
    "'updated_at', ARGV[5], 'checkpoint', '0')\n"
    "  redis.call('ZADD', 'kt:migjobs', ARGV[5], ARGV[1])\n"
    /* a job applied to the end: nothing to do, nothing to write */
    "elseif not (cur.status == 'applied' and cp >= tonumber(ARGV[3])) "
    "then\n"
    "  redis.call('HSET', J, 'status', 'running', 'updated_at', ARGV[5])\n"
    "end\n"
    "return cjson.encode({job = ARGV[1], status = cur and cur.status or "
    "'new', checkpoint = cp, resumed = cur and 1 or 0})\n";

/* ARGV: job, n, now */
static const char lua_checkpoint[] =
    "local J = 'kt:migjob:{' .. ARGV[1] .. '}'\n"
    "local cur = tonumber(redis.call('HGET', J, 'checkpoint') or '0')\n"
    "local n = tonumber(ARGV[2])\n"
    "if n > cur then redis.call('HSET', J, 'checkpoint', ARGV[2], "
    "'updated_at', ARGV[3]); cur = n end\n"
    "return cjson.encode({checkpoint = cur})\n";

/* ARGV: job, status, now. Rolling back rewinds the checkpoint: the undone
 * units are not done any more. */
static const char lua_status[] =
    "local J = 'kt:migjob:{' .. ARGV[1] .. '}'\n"
    "if redis.call('EXISTS', J) == 0 then return redis.error_reply("
    "'NOTFOUND no job ' .. ARGV[1]) end\n"
    "redis.call('HSET', J, 'status', ARGV[2], 'updated_at', ARGV[3])\n"
    "if ARGV[2]:match('^rolled') then redis.call('HSET', J, "
    "'checkpoint', '0') end\n"
    "return cjson.encode({job = ARGV[1], status = ARGV[2]})\n";

/* ARGV: job */
static const char lua_get[] = LUA_PRELUDE
    "local J = 'kt:migjob:{' .. ARGV[1] .. '}'\n"
    "local j = hgetall(J)\n"
    "if not j then return fail('NOTFOUND', 'no job ' .. ARGV[1]) end\n"
    "return cjson.encode({job = j, done = redis.call('HLEN', J .. "
    "':done'), journal = redis.call('XLEN', J .. ':journal')})\n";

static const char lua_list[] = LUA_PRELUDE
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZREVRANGE', 'kt:migjobs', 0, 99)) do\n"
    "  local j = hgetall('kt:migjob:{' .. id .. '}')\n"
    "  if j then out[#out + 1] = j end\n"
    "end\n"
    "if #out == 0 then return '{\"jobs\":[]}' end\n"
    "return cjson.encode({jobs = out})\n";

/* ARGV: job, before ("+" or an id), count */
static const char lua_journal[] =
    "local J = 'kt:migjob:{' .. ARGV[1] .. '}:journal'\n"
    "local from = ARGV[2] == '+' and '+' or '(' .. ARGV[2]\n"
    "local out = {}\n"
    "for _, e in ipairs(redis.call('XREVRANGE', J, from, '-', 'COUNT', "
    "ARGV[3])) do\n"
    "  local f = {}\n"
    "  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end\n"
    "  out[#out + 1] = {id = e[1], unit = f.unit, entry = f.entry}\n"
    "end\n"
    "if #out == 0 then return '{\"entries\":[]}' end\n"
    "return cjson.encode({entries = out})\n";

/* ---- EVALSHA with a NOSCRIPT fallback ------------------------------- */

enum {
	S_APPLY,
	S_UNDO,
	S_BEGIN,
	S_CHECKPOINT,
	S_STATUS,
	S_GET,
	S_LIST,
	S_JOURNAL,
	S_COUNT
};

static const char *const scripts[S_COUNT] = {
    lua_apply,	lua_undo, lua_begin, lua_checkpoint,
    lua_status, lua_get,  lua_list,  lua_journal};
static char shas[S_COUNT][41];
static pthread_once_t shas_once = PTHREAD_ONCE_INIT;

static void compute_shas(void)
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < S_COUNT; i++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned n = 0;

		if (EVP_Digest(scripts[i], strlen(scripts[i]), md, &n,
			       EVP_sha1(), NULL) != 1 ||
		    n != 20) {
			shas[i][0] = '\0'; /* EVAL then */
			continue;
		}
		for (unsigned k = 0; k < 20; k++) {
			shas[i][2 * k] = d[md[k] >> 4];
			shas[i][2 * k + 1] = d[md[k] & 15];
		}
		shas[i][40] = '\0';
	}
}

#define MAX_ARGS 8

struct mj_op {
	kt_store_cb *cb;
	void *arg;
	struct kt_redis *r;
	int script;
	int nargs;
	char *args[MAX_ARGS];
	size_t lens[MAX_ARGS];
	int retried;
};

static void op_free(struct mj_op *o)
{
	for (int i = 0; i < o->nargs; i++)
		free(o->args[i]);
	free(o);
}

static int send_op(struct mj_op *o, int use_sha);

static void finish(struct mj_op *o, int rc, json_t *res)
{
	if (o->cb != NULL)
		o->cb(rc, res, o->arg);
	op_free(o);
}

static void on_reply(const redisReply *rep, void *arg)
{
	struct mj_op *o = arg;
	json_error_t je;
	json_t *res;

	if (rep == NULL) {
		finish(o, KT_ERR_UNAVAILABLE, NULL);
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		int code;
		const char *sp;

		if (!o->retried && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			o->retried = 1;
			if (send_op(o, 0) != KT_OK)
				finish(o, KT_ERR_UNAVAILABLE, NULL);
			return;
		}
		code = kt_account_lua_error(rep->str);
		sp = strchr(rep->str, ' ');
		if (code == KT_ERR_REDIS)
			kt_log_error("redis: %s", rep->str);
		res = json_pack(
		    "{s:s}", "error",
		    code == KT_ERR_REDIS ? rep->str : (sp ? sp + 1 : rep->str));
		finish(o, code, res);
		json_decref(res);
		return;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		finish(o, KT_ERR_REDIS, NULL);
		return;
	}
	res = json_loadb(rep->str, rep->len, 0, &je);
	finish(o, res ? KT_OK : KT_ERR_INTERNAL, res);
	json_decref(res);
}

static int send_op(struct mj_op *o, int use_sha)
{
	const char *argv[3 + MAX_ARGS];
	size_t lens[3 + MAX_ARGS];
	int argc = 0;

	pthread_once(&shas_once, compute_shas);
	if (use_sha && shas[o->script][0] != '\0') {
		argv[argc] = "EVALSHA";
		lens[argc++] = 7;
		argv[argc] = shas[o->script];
		lens[argc++] = 40;
	} else {
		argv[argc] = "EVAL";
		lens[argc++] = 4;
		argv[argc] = scripts[o->script];
		lens[argc++] = strlen(scripts[o->script]);
	}
	argv[argc] = "0";
	lens[argc++] = 1;
	for (int i = 0; i < o->nargs; i++) {
		argv[argc] = o->args[i];
		lens[argc++] = o->lens[i];
	}
	return kt_redis_cmd(o->r, on_reply, o, argc, argv, lens);
}

/* Run script with nargs string arguments (copied). */
static int run(struct kt_redis *r, int script, int nargs,
	       const char *const *args, const size_t *lens, kt_store_cb *cb,
	       void *arg)
{
	struct mj_op *o;
	int rc;

	if (nargs > MAX_ARGS)
		return KT_ERR_LIMIT;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return KT_ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	o->r = r;
	o->script = script;
	for (int i = 0; i < nargs; i++) {
		size_t n = lens ? lens[i] : strlen(args[i]);

		if ((o->args[i] = malloc(n + 1)) == NULL) {
			op_free(o);
			return KT_ERR_NOMEM;
		}
		memcpy(o->args[i], args[i], n);
		o->args[i][n] = '\0';
		o->lens[i] = n;
		o->nargs++;
	}
	if ((rc = send_op(o, 1)) != KT_OK)
		op_free(o);
	return rc;
}

/* ---- public API ----------------------------------------------------- */

int kt_migjob_id_ok(const char *job)
{
	size_t n;

	if (job == NULL || strncmp(job, "job-", 4) != 0)
		return 0;
	n = strlen(job + 4);
	return n >= 1 && n <= 60 &&
	       strspn(job + 4, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static void now_str(char out[24])
{
	snprintf(out, 24, "%lld", (long long)kt_now());
}

int kt_migjob_begin(struct kt_redis *r, const char *job, const char *digest,
		    uint64_t units, const char *plan_path, kt_store_cb *cb,
		    void *arg)
{
	char n[24], now[24];
	const char *args[] = {job, digest, n, plan_path, now};

	if (!kt_migjob_id_ok(job) || digest == NULL || plan_path == NULL)
		return KT_ERR_INVALID;
	snprintf(n, sizeof(n), "%llu", (unsigned long long)units);
	now_str(now);
	return run(r, S_BEGIN, 5, args, NULL, cb, arg);
}

int kt_migjob_apply(struct kt_redis *r, const char *job, const char *unit,
		    size_t len, int dry, kt_store_cb *cb, void *arg)
{
	char now[24], oid[32];
	json_t *u = NULL, *ids = NULL, *people;
	json_error_t je;
	char *idj = NULL;
	size_t n;
	int rc;

	if (!kt_migjob_id_ok(job))
		return KT_ERR_INVALID;
	/* new ids for whatever the unit may create: random, as the model's */
	if ((u = json_loadb(unit, len, 0, &je)) == NULL)
		return KT_ERR_INVALID;
	people = json_object_get(u, "people");
	n = json_is_array(people) ? json_array_size(people) : 0;
	if ((ids = json_pack("{s:s, s:[]}", "org", "", "people")) == NULL) {
		json_decref(u);
		return KT_ERR_NOMEM;
	}
	if (kt_random_token(oid, sizeof(oid), 16) != KT_OK) {
		rc = KT_ERR_CRYPTO;
		goto cleanup;
	}
	json_object_set_new(ids, "org", json_string(oid));
	for (size_t i = 0; i < n; i++) {
		char pid[32];

		if (kt_random_token(pid, sizeof(pid), 16) != KT_OK) {
			rc = KT_ERR_CRYPTO;
			goto cleanup;
		}
		json_array_append_new(json_object_get(ids, "people"),
				      json_string(pid));
	}
	if ((idj = json_dumps(ids, JSON_COMPACT)) == NULL) {
		rc = KT_ERR_NOMEM;
		goto cleanup;
	}
	now_str(now);
	{
		const char *args[] = {job, unit, "", now, dry ? "1" : "0", idj};
		size_t lens[] = {strlen(job), len, 0,
				 strlen(now), 1,   strlen(idj)};

		rc = run(r, S_APPLY, 6, args, lens, cb, arg);
	}
cleanup:
	free(idj);
	json_decref(ids);
	json_decref(u);
	return rc;
}

int kt_migjob_checkpoint(struct kt_redis *r, const char *job, uint64_t n,
			 kt_store_cb *cb, void *arg)
{
	char ns[24], now[24];
	const char *args[] = {job, ns, now};

	if (!kt_migjob_id_ok(job))
		return KT_ERR_INVALID;
	snprintf(ns, sizeof(ns), "%llu", (unsigned long long)n);
	now_str(now);
	return run(r, S_CHECKPOINT, 3, args, NULL, cb, arg);
}

int kt_migjob_set_status(struct kt_redis *r, const char *job,
			 const char *status, kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {job, status, now};

	if (!kt_migjob_id_ok(job) || status == NULL || *status == '\0' ||
	    strlen(status) > 32)
		return KT_ERR_INVALID;
	now_str(now);
	return run(r, S_STATUS, 3, args, NULL, cb, arg);
}

int kt_migjob_get(struct kt_redis *r, const char *job, kt_store_cb *cb,
		  void *arg)
{
	const char *args[] = {job};

	if (!kt_migjob_id_ok(job))
		return KT_ERR_INVALID;
	return run(r, S_GET, 1, args, NULL, cb, arg);
}

int kt_migjob_list(struct kt_redis *r, kt_store_cb *cb, void *arg)
{
	return run(r, S_LIST, 0, NULL, NULL, cb, arg);
}

/* A stream entry id: "<ms>-<seq>". */
static int entry_id_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 20 || s[n] != '-')
		return 0;
	s += n + 1;
	n = strspn(s, "0123456789");
	return n > 0 && n <= 20 && s[n] == '\0';
}

int kt_migjob_journal(struct kt_redis *r, const char *job, const char *before,
		      unsigned count, kt_store_cb *cb, void *arg)
{
	char c[16];
	const char *args[] = {job, before, c};

	if (!kt_migjob_id_ok(job) || before == NULL || count == 0 ||
	    count > 1000 || (strcmp(before, "+") != 0 && !entry_id_ok(before)))
		return KT_ERR_INVALID;
	snprintf(c, sizeof(c), "%u", count);
	return run(r, S_JOURNAL, 3, args, NULL, cb, arg);
}

int kt_migjob_undo(struct kt_redis *r, const char *job, const char *id,
		   const char *entry, int check, int touched_later,
		   kt_store_cb *cb, void *arg)
{
	char now[24];
	const char *args[] = {job,
			      id,
			      entry,
			      now,
			      check ? "check" : "undo",
			      touched_later ? "1" : "0"};

	if (!kt_migjob_id_ok(job) || id == NULL || !entry_id_ok(id) ||
	    entry == NULL)
		return KT_ERR_INVALID;
	now_str(now);
	return run(r, S_UNDO, 6, args, NULL, cb, arg);
}
