// What a DNS name may be, for the names swarmlite puts into DNS answers (service, task and alias
// names): labels of 1-63 letters, digits, '_' and inner '-', 253 characters in all. dns-packet does not
// check label lengths, so a longer one would corrupt the reply rather than fail.
const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

export function isDnsName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 253 && name.split('.').every((l) => LABEL.test(l));
}
