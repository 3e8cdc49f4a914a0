// A local HTTP server that imitates the Hugging Face Hub for the routes @huggingface/hub uses to
// download a model, so the download path is tested without the real Hub:
//   GET /api/models/{owner}/{name}/revision/{rev}       modelInfo (JSON with `sha`, `gated`)
//   GET /api/models/{owner}/{name}/tree/{rev}?recursive  listFiles (oid, size, lfs {oid, size})
//   GET|HEAD /{owner}/{name}/resolve/{rev}/{file}       small files served directly (ETag = git
//        blob id); LFS files 302 to /cdn/{sha256} with X-Linked-Etag and X-Linked-Size, as the Hub
//        does; X-Repo-Commit on both; Range requests answered 206 with Content-Range
// Gated repositories answer 401 on resolve without a valid `Authorization: Bearer` token (the file
// list and model info stay public, as on the Hub). Faults are injected per file: drop the
// connection after N bytes, serve corrupted bytes, or send slowly. Every request is logged.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gitBlobSha1 } from '../../main/core/models/hub/file-hash.js';

export interface MockRepo {
  id: string;
  files: Map<string, Buffer>;
  gated?: boolean;
  /** The token a gated repo accepts. */
  token?: string;
  commit?: string;
}

export interface RequestLog {
  method: string;
  url: string;
  range: string | null;
  authorized: boolean;
  /** The whole Authorization header, so a test can prove where the token went (and did not). */
  authorization: string | null;
}

export interface Faults {
  /** Close the connection after this many body bytes of the file, for the next `times` transfers. */
  drop?: Map<string, { afterBytes: number; times: number }>;
  /** Flip a byte in the file's body for the next `times` transfers. */
  corrupt?: Map<string, { times: number }>;
  /** Send the file's body in chunks of `chunkBytes` every `delayMs` (to interrupt it on purpose). */
  slow?: Map<string, { chunkBytes: number; delayMs: number }>;
}

export interface MockHub {
  url: string;
  requests: RequestLog[];
  faults: Required<Faults>;
  repos: Map<string, MockRepo>;
  close(): Promise<void>;
}

const LFS = (file: string) => file.endsWith('.safetensors') || file === 'tokenizer.json';

export function repoFromFolder(id: string, dir: string, extra: Partial<MockRepo> = {}): MockRepo {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) {
    if (statSync(path.join(dir, name)).isFile()) files.set(name, readFileSync(path.join(dir, name)));
  }
  return { id, files, ...extra };
}

export async function startMockHub(repos: MockRepo[]): Promise<MockHub> {
  const hub: MockHub = {
    url: '',
    requests: [],
    faults: { drop: new Map(), corrupt: new Map(), slow: new Map() },
    repos: new Map(repos.map((r) => [r.id, r])),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    try {
      handle(hub, req, res);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(err) }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hub;
}

function commitOf(repo: MockRepo): string {
  return repo.commit ?? createHash('sha1').update(repo.id).digest('hex');
}

function handle(hub: MockHub, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', hub.url);
  const authorization = req.headers.authorization ?? null;
  const log: RequestLog = {
    method: req.method ?? 'GET',
    url: url.pathname + url.search,
    range: req.headers.range ?? null,
    authorized: authorization !== null,
    authorization,
  };
  hub.requests.push(log);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);

  if (parts[0] === 'api' && parts[1] === 'models') {
    const repo = hub.repos.get(`${parts[2]}/${parts[3]}`);
    if (!repo) return json(401, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
    const rev = parts[5] ?? '';
    if (!revisionMatches(repo, rev)) {
      return json(404, { error: `Invalid rev id: ${rev}` }, { 'x-error-code': 'RevisionNotFound' });
    }
    if (parts[4] === 'revision') {
      return json(200, {
        _id: commitOf(repo).slice(0, 24),
        id: repo.id,
        sha: commitOf(repo),
        gated: repo.gated ? 'manual' : false,
        private: false,
        downloads: 0,
        likes: 0,
        lastModified: '2024-09-25T00:00:00.000Z',
      });
    }
    if (parts[4] === 'tree') {
      const entries: unknown[] = [...repo.files].map(([file, content]) =>
        LFS(file)
          ? {
              type: 'file',
              oid: gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\n`)),
              size: content.byteLength,
              path: file,
              lfs: { oid: sha256(content), size: content.byteLength, pointerSize: 134 },
            }
          : { type: 'file', oid: gitBlobSha1(content), size: content.byteLength, path: file },
      );
      entries.push({ type: 'directory', oid: 'f'.repeat(40), size: 0, path: 'original' });
      return json(200, entries);
    }
    return json(404, { error: 'Not found' });
  }

  if (parts[0] === 'cdn') {
    const sha = parts[1];
    for (const repo of hub.repos.values()) {
      for (const [file, content] of repo.files) {
        if (sha256(content) === sha) return sendBody(hub, req, res, file, content, { etag: `"${sha}"` });
      }
    }
    return json(404, { error: 'Not found' });
  }

  // /{owner}/{name}/resolve/{rev}/{file}
  if (parts[2] === 'resolve') {
    const repo = hub.repos.get(`${parts[0]}/${parts[1]}`);
    if (!repo) return json(401, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
    if (!revisionMatches(repo, parts[3] ?? '')) {
      return json(404, { error: 'Invalid rev id' }, { 'x-error-code': 'RevisionNotFound' });
    }
    if (repo.gated && authorization !== `Bearer ${repo.token}`) {
      return json(
        401,
        {
          error: `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        },
        { 'x-error-code': 'GatedRepo' },
      );
    }
    const file = parts.slice(4).join('/');
    const content = repo.files.get(file);
    if (!content) return json(404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
    const commit = commitOf(repo);
    if (LFS(file)) {
      const sha = sha256(content);
      res.writeHead(302, {
        location: `/cdn/${sha}?name=${encodeURIComponent(file)}`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(content.byteLength),
        etag: `"${gitBlobSha1(Buffer.from(file))}"`,
        'content-length': '0',
      });
      return res.end();
    }
    return sendBody(hub, req, res, file, content, {
      etag: `"${gitBlobSha1(content)}"`,
      'x-repo-commit': commit,
    });
  }
  json(404, { error: 'Not found' });
}

function revisionMatches(repo: MockRepo, rev: string): boolean {
  return rev === 'main' || rev === 'HEAD' || rev === commitOf(repo);
}

function sendBody(
  hub: MockHub,
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  content: Buffer,
  headers: Record<string, string>,
) {
  const total = content.byteLength;
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const start = match ? Number(match[1]) : 0;
  const end = match?.[2] ? Math.min(Number(match[2]), total - 1) : total - 1;
  if (match && start >= total) {
    res.writeHead(416, { 'content-range': `bytes */${total}` });
    return res.end();
  }
  let body = content.subarray(start, end + 1);
  const common = { ...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
  res.writeHead(match ? 206 : 200, {
    ...common,
    'content-length': String(body.byteLength),
    ...(match && { 'content-range': `bytes ${start}-${end}/${total}` }),
  });
  if (req.method === 'HEAD') return res.end();
  // The one-byte probes (`Range: bytes=0-0`) the library makes are never faulted.
  const isTransfer = body.byteLength > 1;
  const corrupt = hub.faults.corrupt.get(file);
  if (isTransfer && corrupt && corrupt.times > 0) {
    corrupt.times -= 1;
    body = Buffer.from(body);
    body[Math.floor(body.byteLength / 2)]! ^= 0xff;
  }
  const drop = hub.faults.drop.get(file);
  if (isTransfer && drop && drop.times > 0 && drop.afterBytes < body.byteLength) {
    drop.times -= 1;
    res.write(body.subarray(0, drop.afterBytes), () => {
      setTimeout(() => res.socket?.destroy(), 20);
    });
    return;
  }
  const slow = hub.faults.slow.get(file);
  if (isTransfer && slow) {
    let sent = 0;
    const tick = () => {
      if (res.destroyed) return;
      const chunk = body.subarray(sent, sent + slow.chunkBytes);
      sent += chunk.byteLength;
      if (sent >= body.byteLength) return void res.end(chunk);
      res.write(chunk);
      setTimeout(tick, slow.delayMs);
    };
    return tick();
  }
  res.end(body);
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
