// Overview: the organization at a glance.
import { route } from '../router.js';
import { page, panel, kv } from '../ui.js';
import { get } from '../api.js';

route('/', ({ main }) => {
  main.append(
    page(
      'Overview',
      panel(async () => {
        const org = await get('/organization/');
        return kv([['Name', org.org_name || org.org_id]]);
      }),
    ),
  );
});
