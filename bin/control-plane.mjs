#!/usr/bin/env node
// `node bin/control-plane.mjs …` in a checkout: the control-plane package's own launcher
// (control-plane/bin/titan-control-plane.mjs), which runs the TypeScript sources through tsx here.
import '../control-plane/bin/titan-control-plane.mjs';
