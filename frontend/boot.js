// Loaded as a file rather than inline so the Content-Security-Policy can forbid inline scripts.
import init from '/overcast_frontend.js';
init({ module_or_path: '/overcast_frontend_bg.wasm' });
