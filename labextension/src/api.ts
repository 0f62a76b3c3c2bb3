/**
 * One typed helper for every call to the jupyter-mlops REST API.
 *
 * Requests go through ServerConnection, so the Jupyter token or login cookie and the
 * XSRF header are sent as for every other JupyterLab request.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const API_PREFIX = 'jupyter-mlops/api/v1';

/** An error answered by the API: {error, message, field, hint}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly field: string | null = null,
    readonly hint: string | null = null
  ) {
    super(message);
  }

  /** One line for the panel: the message (it names the bad value) and the accepted form. */
  describe(): string {
    return this.hint ? `${this.message} \u2014 ${this.hint}` : this.message;
  }
}

export type Query = Record<string, string | number | undefined | null>;

/** GET or POST ``path`` below /jupyter-mlops/api/v1 and parse the JSON answer. */
export async function requestAPI<T>(
  settings: ServerConnection.ISettings,
  path: string,
  query: Query = {},
  init: RequestInit = {}
): Promise<T> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      params.set(key, String(value));
    }
  }
  const qs = params.toString();
  const url =
    URLExt.join(settings.baseUrl, API_PREFIX, path) + (qs ? `?${qs}` : '');
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const body = data && typeof data === 'object' ? data : {};
    throw new ApiError(
      response.status,
      String(body.error ?? 'HTTPError'),
      String(body.message ?? response.statusText),
      body.field ? String(body.field) : null,
      body.hint ? String(body.hint) : null
    );
  }
  return data as T;
}

/** POST a JSON body. */
export function postAPI<T>(
  settings: ServerConnection.ISettings,
  path: string,
  body: unknown
): Promise<T> {
  return requestAPI<T>(
    settings,
    path,
    {},
    {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    }
  );
}

/** A path segment, percent-encoded. */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}
