// A table wider than its box scrolls sideways inside it; on a phone nothing would say so. While
// there is more to the right, the frame shows a shadow on that edge and a line of text says so.
import { byId } from './dom.js';

/** Watches `box` (a .table-scroll inside a .scroll-frame) and keeps `hint` and the shadow in step with it. */
export function watchSideways(box: HTMLElement, hint: HTMLElement): void {
  const frame = box.parentElement;
  const update = (): void => {
    const hidden = box.scrollWidth - box.clientWidth;
    hint.hidden = hidden <= 1;
    if (frame !== null) {
      frame.dataset.more = [box.scrollLeft > 1 ? 'left' : '', hidden - box.scrollLeft > 1 ? 'right' : ''].join(' ').trim();
    }
  };
  box.addEventListener('scroll', update, { passive: true });
  // The box resizes with the window, the table with its rows (a new year, a filter).
  const observer = new ResizeObserver(update);
  observer.observe(box);
  const table = box.querySelector('table');
  if (table !== null) observer.observe(table);
  update();
}

export function setupScrollHints(): void {
  watchSideways(byId('quarters-scroll', HTMLDivElement), byId('quarters-scroll-hint', HTMLParagraphElement));
}
