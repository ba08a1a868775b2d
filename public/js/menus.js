// Row action menus are <details> elements: they open and close without script. With script, an
// open menu also closes on a click elsewhere, on Escape (focus back on its button), and when
// another opens — so one never covers the next row's.
document.addEventListener('click', (event) => {
  for (const menu of document.querySelectorAll('details.menu[open]')) {
    if (!menu.contains(event.target)) menu.removeAttribute('open');
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  for (const menu of document.querySelectorAll('details.menu[open]')) {
    menu.removeAttribute('open');
    menu.querySelector('summary')?.focus();
  }
});

// Scripting runs: controls that need htmx (class js-only) may show.
document.documentElement.classList.add('js');
