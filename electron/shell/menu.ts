// The application menu: the usual roles, plus New VM and Quit with their shortcuts.
import { Menu, type MenuItemConstructorOptions } from 'electron';

export function buildAppMenu(actions: { newVm(): void; quit(): void; openDocs(): void; devTools: boolean }): Menu {
  const mac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(mac ? [{ role: 'appMenu' } as MenuItemConstructorOptions] : []),
    {
      label: '&File',
      submenu: [
        { label: 'New VM…', accelerator: 'CmdOrCtrl+N', click: () => actions.newVm() },
        { type: 'separator' },
        mac ? { role: 'close' } : { label: 'Quit', accelerator: 'CmdOrCtrl+Q', click: () => actions.quit() },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        { role: 'reload' },
        ...(actions.devTools ? [{ role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
    { role: 'help', submenu: [{ label: 'Flotilla documentation', click: () => actions.openDocs() }] },
  ];
  return Menu.buildFromTemplate(template);
}
