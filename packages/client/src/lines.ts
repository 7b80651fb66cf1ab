/** The lines of a byte stream (NDJSON), decoded as UTF-8; a last line without a newline counts too. */
export async function* linesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let rest = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
      let at = rest.indexOf('\n');
      while (at !== -1) {
        const line = rest.slice(0, at);
        rest = rest.slice(at + 1);
        if (line.trim() !== '') yield line;
        at = rest.indexOf('\n');
      }
    }
    rest += decoder.decode();
    if (rest.trim() !== '') yield rest;
  } finally {
    reader.releaseLock();
  }
}
