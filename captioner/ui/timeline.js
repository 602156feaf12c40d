// Clickable timeline: every timestamp in an answer seeks the video player to that time.
//
// Answers stay plain text on the server (what the copy button copies, what the run log
// keeps); this script turns the times it finds in the rendered answer into links after
// every render. The forms are the ones captioner/subtitles.py reads: "MM:SS", "H:MM:SS"
// (with optional decimals) and Qwen3-VL's own "<12.3 seconds>". A link in the caption tab
// seeks the uploaded video; one in the review tab seeks the run's video.
(() => {
  const AREAS = ["#answer", "#run_detail", "#left_output", "#right_output"];
  const PLAYERS = { "#run_detail": "#run_video video", "#left_output": "#run_video video",
                    "#right_output": "#run_video video" };
  const TIME = /(?:&lt;|<)\s*(\d+(?:\.\d+)?)\s*seconds?\s*(?:&gt;|>)|(?<![\d:.])(?:(\d{1,2}):)?(\d{1,3}):(\d{2}(?:[.,]\d{1,3})?)(?![\d:])/g;

  function seconds(match) {
    if (match[1] !== undefined) return parseFloat(match[1]);
    const hours = match[2] ? parseInt(match[2], 10) : 0;
    return hours * 3600 + parseInt(match[3], 10) * 60 + parseFloat(match[4].replace(",", "."));
  }

  function linkify(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => node.parentElement.closest("a, code, pre, .ts")
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const text = node.nodeValue;
      TIME.lastIndex = 0;
      if (!TIME.test(text)) continue;
      TIME.lastIndex = 0;
      const fragment = document.createDocumentFragment();
      let last = 0;
      for (const match of text.matchAll(TIME)) {
        fragment.append(text.slice(last, match.index));
        const link = document.createElement("a");
        link.className = "ts";
        link.href = "#";
        link.dataset.t = String(seconds(match));
        link.textContent = match[0];
        fragment.append(link);
        last = match.index + match[0].length;
      }
      fragment.append(text.slice(last));
      node.replaceWith(fragment);
    }
  }

  function scan() {
    for (const area of AREAS) {
      const root = document.querySelector(area);
      if (root) linkify(root);
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.ts");
    if (!link) return;
    event.preventDefault();
    const area = AREAS.find((selector) => link.closest(selector));
    const player = document.querySelector(PLAYERS[area] || "#video video");
    if (player) {
      player.currentTime = parseFloat(link.dataset.t);
      player.scrollIntoView({ block: "nearest" });
    }
  });

  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; scan(); });
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
