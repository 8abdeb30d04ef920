import { parseRoleMapping } from '../../src/identity/role-mapping.js';
const m = parseRoleMapping(
  JSON.stringify({ '*-*-prod/*': { RoleARN: 'arn:aws:iam::111122223333:role/x' } }),
  'x',
);
for (const n of [1000, 5000, 20000, 100000]) {
  const t = performance.now();
  m.get('a-'.repeat(n), 'sa');
  console.log(n * 2, 'chars', (performance.now() - t).toFixed(1), 'ms');
}
