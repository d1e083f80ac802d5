// Types only, for checking the page's JSDoc (public/tsconfig.json): the
// server answers /vendor/lightweight-charts.js with the package's standalone
// ES module build (src/dashboard/dashboard.ts). Not served.
export * from 'lightweight-charts';
