// The page's calls to the control plane: the admin key (this tab's session storage) as a Bearer
// token on every data request.
const KEY_ITEM = 'titan.adminKey';

export class Unauthorized extends Error {}

export const adminKey = {
  get: () => sessionStorage.getItem(KEY_ITEM),
  set: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** GETs JSON with the admin key; 401/403 throw Unauthorized, a 404 answers null. */
export async function getJson<T>(path: string): Promise<T | null> {
  const res = await fetch(path, {
    headers: { authorization: `Bearer ${adminKey.get() ?? ''}` },
    cache: 'no-store',
  });
  if (res.status === 401 || res.status === 403) throw new Unauthorized(`HTTP ${res.status}`);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}
