/**
 * Many plotly figures to PNGs in one headless Chromium launch. Each launch parses plotly's 4.8 MB
 * bundle and starts a browser (seconds on a loaded machine), so drawing every picture of
 * `deno task figures` from one page costs one launch instead of two per page (`screenshot` first
 * measures the page's height, then shoots it).
 *
 * The page embeds plotly once and draws each figure with `Plotly.toImage` at its layout's size;
 * a picture of several figures stacks them on a canvas under its title and caption (toImage draws
 * only the figure: its layout title, never the page around it). The PNGs come back as data URLs
 * in the dumped DOM. Any figure that fails, any console error, and a page that did not finish in
 * its time all throw: there is no stand-in picture.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type ChromiumOptions, inspectPage } from "./chromium.ts";
import { type Figure, plotlySource } from "./show.ts";

/** One PNG to draw: figures stacked top to bottom, under an optional title and caption. */
export interface FigurePicture {
  /** The figures, each drawn at its layout's `width`×`height` (default 720×420, as plotHtml). */
  figures: readonly Figure[];
  /** A heading drawn above the figures (bold). */
  title?: string;
  /** A line under the heading (e.g. lib/display's `runSource`), wrapped to the picture's width. */
  caption?: string;
}

/** Wall-clock limit per figure, on top of {@link ChromiumOptions}' base limit. */
const TIMEOUT_PER_FIGURE_MS = 10_000;
const BASE_TIMEOUT_MS = 60_000;
/**
 * Virtual time is only spent while the page waits on timers; plotly's drawing runs in real time,
 * so a generous budget costs nothing when the page finishes early (Chromium dumps at the budget's
 * end, having fast-forwarded idle time).
 */
const VIRTUAL_TIME_MS = 600_000;
const MARGIN_PX = 16;
const DONE = "data-dalle-lab-pngs-done";

/**
 * Draws each picture to a PNG in one headless Chromium launch.
 *
 * @param pictures The pictures, in order.
 * @param options Limits; `timeoutMs` defaults to 60 s plus 10 s per figure.
 * @returns The encoded PNGs, one per picture, in order.
 * @throws Error when Chromium is missing, a figure fails to draw, or the page logs an error.
 * @example
 * ```ts ignore
 * import { figuresToPngs } from "./figure_pngs.ts";
 * const [png] = await figuresToPngs([
 *   { title: "demo", figures: [{ data: [{ y: [1, 3, 2] }], layout: { width: 400, height: 300 } }] },
 * ]);
 * // 432×(300 + heading) pixels: the figure, a 16 px margin each side, the title above it
 * ```
 */
export async function figuresToPngs(
  pictures: readonly FigurePicture[],
  options: ChromiumOptions = {},
): Promise<Uint8Array[]> {
  if (pictures.length === 0) return [];
  for (const [i, p] of pictures.entries()) {
    if (p.figures.length === 0) throw new RangeError(`figuresToPngs: picture ${i} has no figures`);
  }
  const figureCount = pictures.reduce((n, p) => n + p.figures.length, 0);
  const dir = await Deno.makeTempDir({ prefix: "dalle-lab-pngs-" });
  try {
    const path = `${dir}/pictures.html`;
    await Deno.writeTextFile(path, picturesPage(pictures, plotlySource()));
    const { consoleErrors, dom } = await inspectPage(path, {
      timeoutMs: options.timeoutMs ?? BASE_TIMEOUT_MS + TIMEOUT_PER_FIGURE_MS * figureCount,
      virtualTimeMs: options.virtualTimeMs ?? VIRTUAL_TIME_MS,
    });
    const failure = dom.match(/<pre id="dalle-lab-pngs-error">([\s\S]*?)<\/pre>/);
    if (failure) throw new Error(`figuresToPngs: ${unescapeHtml(failure[1])}`);
    if (consoleErrors.length > 0) {
      throw new Error(`figuresToPngs: the page logged errors: ${consoleErrors.join(" | ")}`);
    }
    if (!dom.includes(DONE)) {
      throw new Error(
        `figuresToPngs: the page did not finish drawing ${figureCount} figures in its virtual ` +
          `time (${options.virtualTimeMs ?? VIRTUAL_TIME_MS} ms)`,
      );
    }
    return pictures.map((_, i) => {
      const match = dom.match(
        new RegExp(`<pre id="dalle-lab-png-${i}">data:image/png;base64,([A-Za-z0-9+/=]+)</pre>`),
      );
      if (!match) throw new Error(`figuresToPngs: picture ${i} is missing from the page`);
      return new Uint8Array(Buffer.from(match[1], "base64"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function unescapeHtml(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

/** The page: plotly once, the pictures as JSON, and a script that draws and reports them. */
function picturesPage(pictures: readonly FigurePicture[], plotly: string): string {
  // `</` would end the script early; JSON allows escaping its slash.
  const json = JSON.stringify(pictures).replace(/<\//g, "<\\/");
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>figures</title></head><body>` +
    `<script>${plotly}</script>` +
    `<script>const pictures=${json};const margin=${MARGIN_PX};${DRAW_SCRIPT}</script>` +
    `</body></html>`;
}

/**
 * Runs in the page: every figure through Plotly.toImage, stacked per picture on a white canvas
 * under its wrapped title and caption, each data URL written into a `<pre>`.
 */
const DRAW_SCRIPT = `
const load=(url)=>new Promise((ok,fail)=>{const i=new Image();i.onload=()=>ok(i);
i.onerror=()=>fail(new Error("a figure's PNG did not decode"));i.src=url;});
const wrap=(ctx,text,width)=>{const lines=[];let line="";
for(const word of text.split(/\\s+/)){const next=line?line+" "+word:word;
if(line&&ctx.measureText(next).width>width){lines.push(line);line=word;}else line=next;}
if(line)lines.push(line);return lines;};
const put=(id,text)=>{const pre=document.createElement("pre");pre.id=id;pre.textContent=text;
document.body.appendChild(pre);};
(async()=>{for(const [n,p] of pictures.entries()){
const images=[];
for(const [k,f] of p.figures.entries()){const layout=Object.assign({},f.layout||{});
const width=layout.width||720,height=layout.height||420;layout.width=width;layout.height=height;
let url;try{url=await Plotly.toImage({data:f.data,layout,config:f.config||{}},
{format:"png",width,height});}catch(e){throw new Error("picture "+n+", figure "+k+": "+(e&&e.stack||e));}
images.push(await load(url));}
const width=Math.max(...images.map((i)=>i.width))+2*margin;
const measure=document.createElement("canvas").getContext("2d");
const heading=[];
if(p.title){measure.font="bold 20px sans-serif";
for(const l of wrap(measure,p.title,width-2*margin))heading.push({text:l,font:measure.font,size:26});}
if(p.caption){measure.font="14px sans-serif";
for(const l of wrap(measure,p.caption,width-2*margin))heading.push({text:l,font:measure.font,size:20});}
const top=margin+heading.reduce((s,h)=>s+h.size,0)+(heading.length?8:0);
const height=top+images.reduce((s,i)=>s+i.height,0)+margin;
const canvas=document.createElement("canvas");canvas.width=width;canvas.height=height;
const ctx=canvas.getContext("2d");ctx.fillStyle="#fff";ctx.fillRect(0,0,width,height);
ctx.fillStyle="#222";ctx.textBaseline="top";let y=margin;
for(const h of heading){ctx.font=h.font;ctx.fillText(h.text,margin,y);y+=h.size;}
y=top;for(const i of images){ctx.drawImage(i,margin,y);y+=i.height;}
put("dalle-lab-png-"+n,canvas.toDataURL("image/png"));}
document.documentElement.setAttribute(${JSON.stringify(DONE)},"1");
})().catch((e)=>put("dalle-lab-pngs-error",String(e&&e.stack||e)));
`;
