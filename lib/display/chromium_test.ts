import assert from "node:assert/strict";
import sharp from "sharp";
import { findChromium, htmlToPng, inspectPage, pngIsBlank, screenshot } from "./mod.ts";

const noChromium = findChromium() === null;

async function solidPng(width: number, height: number, colour: string): Promise<Uint8Array> {
  return await sharp({ create: { width, height, channels: 3, background: colour } }).png()
    .toBuffer();
}

/** Runs `fn` with environment variables set (undefined = unset), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) Deno.env.delete(k);
      else Deno.env.set(k, value);
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

Deno.test("findChromium: $DALLE_LAB_CHROMIUM first, else PATH, else null", async () => {
  await withEnv({ DALLE_LAB_CHROMIUM: "/opt/my-chrome" }, () => {
    assert.equal(findChromium(), "/opt/my-chrome");
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/google-chrome`, "#!/bin/sh\n");
    await Deno.chmod(`${dir}/google-chrome`, 0o755);
    await withEnv({ DALLE_LAB_CHROMIUM: undefined, PATH: `/nonexistent:${dir}` }, () => {
      assert.equal(findChromium(), `${dir}/google-chrome`);
    });
    await withEnv({ DALLE_LAB_CHROMIUM: undefined, PATH: "/nonexistent" }, async () => {
      assert.equal(findChromium(), null);
      await assert.rejects(
        () => htmlToPng("<p>x</p>", `${dir}/x.png`),
        /Chromium not found.*Debian's `chromium` package/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("screenshot rejects sizes that are not positive integers", async () => {
  await assert.rejects(() => screenshot("x.html", "x.png", { width: 0 }), RangeError);
  await assert.rejects(() => screenshot("x.html", "x.png", { height: 12.5 }), RangeError);
});

Deno.test({
  name: "htmlToPng: full page height when height is omitted, and the page's colours",
  ignore: noChromium,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const html = `<!DOCTYPE html><html><body style="margin:0">` +
        `<div style="height:300px;background:#ff0000"></div>` +
        `<div id="late" style="background:#0000ff"></div>` +
        // Drawn by a timer, as plotly draws: the measured height must include it.
        `<script>setTimeout(()=>{document.getElementById("late").style.height="937px";},200);` +
        `</script></body></html>`;
      const size = await htmlToPng(html, `${dir}/page.png`, { width: 321 });
      assert.deepEqual(size, { width: 321, height: 1237, pageHeight: 1237 });
      const png = await Deno.readFile(`${dir}/page.png`);
      const { data, info } = await sharp(png).removeAlpha().raw()
        .toBuffer({ resolveWithObject: true });
      const rgb = (
        x: number,
        y: number,
      ) => [...data.subarray(3 * (y * info.width + x), 3 * (y * info.width + x) + 3)];
      assert.deepEqual(rgb(10, 10), [255, 0, 0]);
      assert.deepEqual(rgb(10, 1200), [0, 0, 255]);
      assert.equal(await pngIsBlank(png), false);

      // A given height is report_test's case; here the measured one, cut at maxHeight.
      const cut = await htmlToPng(html, `${dir}/cut.png`, { width: 200, maxHeight: 500 });
      assert.deepEqual(cut, { width: 200, height: 500, pageHeight: 1237 });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "inspectPage: errors of every kind, not logs; the DOM after scripts; relative links",
  ignore: noChromium,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/dot.png`, await solidPng(2, 2, "#00ff00"));
      const page = `<!DOCTYPE html><html><head><title>t</title></head><body>` +
        `<img src="dot.png" onload="document.body.dataset.dot='loaded'">` +
        `<img src="missing.png">` +
        `<script>console.log("just a log"); console.error("bad", {n: 42});` +
        `Promise.reject(new Error("nobody caught me"));` +
        `setTimeout(()=>{document.body.dataset.late="yes";},300);</script>` +
        `<script>undefinedFunction();</script></body></html>`;
      await Deno.writeTextFile(`${dir}/page.html`, page);
      const { consoleErrors, consoleMessages, dom } = await inspectPage(`${dir}/page.html`);
      assert.ok(consoleMessages.includes("just a log"), JSON.stringify(consoleMessages));
      assert.equal(consoleErrors.length, 4, JSON.stringify(consoleErrors));
      const expected = [
        /^bad \{"n":42\}$/,
        /^Unhandled rejection Error: nobody caught me/,
        /^failed to load <img> .*missing\.png$/,
        /^Uncaught ReferenceError: undefinedFunction is not defined/,
      ];
      for (const pattern of expected) {
        assert.ok(consoleErrors.some((e) => pattern.test(e)), `${pattern} in ${consoleErrors}`);
      }
      assert.match(dom, /data-late="yes"/);
      assert.match(dom, /data-dot="loaded"/, "a relative link resolves against the page's folder");
      assert.doesNotMatch(dom, /dalle-lab|<base/, "the prelude is not part of the page's DOM");
      assert.equal(await Deno.readTextFile(`${dir}/page.html`), page, "the page is left as it was");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
