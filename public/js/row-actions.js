// Row action links (Log Out, Delete) lead to their confirm page, which works without script. With
// script, a link in a table marked data-in-place asks the same question in a dialog instead and
// posts in place, with the list's query: the answer is the re-rendered section that data-in-place
// names (count, rows and message as a fresh load would show them). The question comes from the
// table's data-confirm-<action> with {name} the row's first cell, so rows carry no copy of it.
document.addEventListener(
  'click',
  (event) => {
    const link = event.target instanceof Element ? event.target.closest('[data-in-place] a[href]') : null;
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const table = link.closest('[data-in-place]');
    const action = link.pathname.split('/').pop();
    const question = table.getAttribute(`data-confirm-${action}`);
    if (!question || !window.htmx) return; // not a row action: an ordinary link
    // Before htmx's boost, which would open the confirm page.
    event.preventDefault();
    event.stopPropagation();
    link.closest('details')?.removeAttribute('open');
    const name = link.closest('tr')?.cells[0]?.textContent.trim() ?? '';
    if (!window.confirm(question.replace('{name}', name))) return;
    const target = table.getAttribute('data-in-place');
    // From the table, not the link: htmx would send a boosted link's request as a page load.
    // confirm=yes: the question was asked here (without script, the confirm page asks it).
    window.htmx.ajax('POST', link.pathname + window.location.search, {
      source: table,
      target,
      swap: 'innerHTML',
      values: { confirm: 'yes' },
    });
  },
  true,
);
