// Resolving a task's `user` (Docker's forms: "", "name", "uid", "name:group", "uid:gid") against the
// passwd and group files of the task's root filesystem (for the `host` image: the host's own). Pure:
// the caller reads the files, so the rules are tested without touching /etc.

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (from the group file), not counting `gid`. */
  groups: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const ID = /^\d+$/;
const MAX_ID = 2 ** 32 - 2; // (uid_t)-1 means "unchanged" to the kernel

function parseId(text: string): number | undefined {
  if (!ID.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5]! });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

/**
 * Docker's rules: a name must exist in passwd (its primary group and supplementary groups come
 * along); a bare uid may be unknown (then gid 0, home "/"); an explicit group replaces the primary
 * group and drops the supplementary ones. An empty spec is root.
 */
export function resolveUser(spec: string, passwdText: string, groupText: string): ResolvedUser {
  const trimmed = spec.trim() || '0';
  const [userPart, groupPart, ...rest] = trimmed.split(':');
  if (rest.length > 0 || userPart === '' || groupPart === '')
    throw new Error(`invalid user "${spec}": use name, uid, name:group or uid:gid`);
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);

  const uidNum = parseId(userPart!);
  const entry =
    uidNum === undefined ? passwd.find((p) => p.name === userPart) : passwd.find((p) => p.uid === uidNum);
  if (uidNum === undefined && !entry)
    throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = uidNum ?? entry!.uid;

  let gid = entry?.gid ?? 0;
  let supplementary: number[] = [];
  if (groupPart !== undefined) {
    const gidNum = parseId(groupPart);
    const group = gidNum === undefined ? groups.find((g) => g.name === groupPart) : undefined;
    if (gidNum === undefined && !group)
      throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = gidNum ?? group!.gid;
  } else if (entry) {
    supplementary = groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid);
  }
  return { uid, gid, groups: [...new Set(supplementary)], home: entry?.home || (uid === 0 ? '/root' : '/') };
}
