import { readFileSync } from 'node:fs';

interface PostmanItem {
  name: string;
  request: { method: string; url: { path: string[]; query?: { key: string; value: string }[] }; body?: { raw: string } };
}

const collection = JSON.parse(readFileSync(new URL('../../extra/logserver.postman_collection.json', import.meta.url), 'utf8')) as {
  item: PostmanItem[];
};

export const postmanItem = (name: string): PostmanItem | undefined => collection.item.find((item) => item.name === name);

/**
 * The collection's GET requests on a path whose parameters are all filters a test can check
 * ({{user}} filled in; requests needing a value from an earlier response, or meant to fail, left out).
 */
export function collectionQueries(path: string, user = 'postman'): [string, URLSearchParams][] {
  return collection.item
    .filter((item) => item.request.method === 'GET' && item.request.url.path.join('/') === path)
    .map((item): [string, URLSearchParams] => [
      item.name,
      new URLSearchParams((item.request.url.query ?? []).map(({ key, value }): [string, string] => [key, value.replace('{{user}}', user)])),
    ])
    .filter(([, params]) => ![...params.values()].some((value) => value.includes('{{')) && !params.has('colour'));
}
