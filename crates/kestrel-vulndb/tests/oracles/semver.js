// Reads "a<TAB>b" lines; prints -1, 0, 1, or "invalid" per line, using node-semver (npm's own).
const semver = require('semver');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
const out = lines.map((l) => {
  const [a, b] = l.split('\t');
  if (!semver.valid(a) || !semver.valid(b)) return 'invalid';
  return String(semver.compare(a, b));
});
process.stdout.write(out.join('\n') + '\n');
