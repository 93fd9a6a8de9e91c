// Signs Telegram Mini App init data with @telegram-apps/init-data-node (an implementation independent
// of ours), for the api crate's tests: `node sign.mjs <bot token> <json: fields> <auth_date unix secs>`
// prints the init data query string.
import { sign } from '@telegram-apps/init-data-node';

const [token, fields, authDate] = process.argv.slice(2);
if (!token || !fields || !authDate) {
  console.error('usage: node sign.mjs <bot token> <fields json> <auth_date>');
  process.exit(2);
}
process.stdout.write(sign(JSON.parse(fields), token, new Date(Number(authDate) * 1000)));
