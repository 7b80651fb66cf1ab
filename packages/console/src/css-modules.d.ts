// esbuild loads .css imports as text (build.mjs), so a style sheet from a library can go into a shadow root.
declare module '*.css' {
  const text: string;
  export default text;
}
