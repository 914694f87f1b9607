// Vite resolves asset imports (the stylesheet) for the build.
/// <reference types="vite/client" />
