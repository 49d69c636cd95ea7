/** `npx tsx examples/guestbook/main.ts`: the guestbook on http://127.0.0.1:8090 until Ctrl-C. */
import { serveGuestbook } from "./serve.ts";

const service = await serveGuestbook(process.env.DATA_DIR ?? "./.data-guestbook", 8090);
console.log(`guestbook on ${service.url}: curl -X POST ${service.url}/guestbook/lobby/sign -d '{"name":"Ada"}'`);
process.once("SIGINT", () => void service.stop().then(() => process.exit(0)));
