/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// During `npm run dev`, /api/ is proxied to a running keepsake-web (or anything that speaks the
// agent API over HTTP). Point KEEPSAKE_API at it, e.g. KEEPSAKE_API=http://127.0.0.1:8080.
const api = process.env.KEEPSAKE_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    // The help pages are read from ../docs/kb (lib/kb.ts bundles them).
    fs: { allow: ['.', '../docs/kb'] },
    proxy: {
      '/api/': { target: api, changeOrigin: false },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
